"""bench/instructions.py: the count it reads from callgrind and the table it prints."""

from __future__ import annotations

import pytest

from bench import instructions

VALGRIND_TAIL = """==4711== Events    : Ir
==4711== Collected : 142800000
==4711==
==4711== I   refs:      142,800,000
"""


def test_the_count_is_callgrinds_last_collected_line():
    assert instructions.collected("==1== Collected : 5\n" + VALGRIND_TAIL) == 142_800_000
    with pytest.raises(ValueError):
        instructions.collected("==4711== Callgrind, a call-graph generating cache profiler\n")


def test_the_table_gives_each_endpoint_its_ratio_to_bare():
    shown = instructions.table({"bare": 2_000_000, "me": 4_000_000, "feed": 5_000_000}, 40)
    assert "| bare Flask + psycopg | 2.00 M | 1.000 |" in shown
    assert "| API who am I (floor) | 4.00 M | 0.500 |" in shown
    assert "| feed page | 5.00 M | 0.400 |" in shown


def test_the_endpoints_after_a_post_read_the_seeded_tables(monkeypatch):
    """What an endpoint that posts added is taken away before the next endpoint is counted."""
    from types import SimpleNamespace

    happened: list[str] = []
    monkeypatch.setattr(instructions, "count",
                        lambda name, *a: happened.append(name) or 1_000_000)
    found = SimpleNamespace(collaboration_id=1, reflection_id=1, search="bus", token="t")
    counts = instructions.count_all(["post", "search"], "postgresql://", found, None,
                                    lambda: happened.append("tidy"))
    assert happened == ["bare", "post", "tidy", "search"]
    assert set(counts) == {"bare", "post", "search"}
