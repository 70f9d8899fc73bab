"""Fixtures of the routine tests."""

from __future__ import annotations

import pytest

from coprod.routines import schedule


@pytest.fixture
def dateutil_spy(monkeypatch):
    """Where every evaluation starts dateutil, and how many occurrences it walks through."""
    spy = {"starts": [], "steps": 0}
    real = schedule._dateutil_rule

    def counting(text, dtstart):
        spy["starts"].append(dtstart)

        def walk():
            for occurrence in real(text, dtstart):
                spy["steps"] += 1
                yield occurrence
        return walk()

    monkeypatch.setattr(schedule, "_dateutil_rule", counting)
    return spy
