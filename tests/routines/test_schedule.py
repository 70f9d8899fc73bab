"""Cadences in the routine's time zone: presets, raw RRULEs, periods, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from coprod.routines import schedule

CPH = "Europe/Copenhagen"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("cadence", "expected"), [
    ("weekly", "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("fortnightly", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
    ("monthly", "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"),
])
def test_presets_are_rrules(cadence, expected):
    assert schedule.preset_rule(cadence, "TU", time(9, 0)) == expected


def test_tuesday_nine_stays_nine_local_across_the_autumn_change():
    rule = schedule.preset_rule("weekly", "TU", time(9, 0))
    found = schedule.occurrences_between(rule, date(2026, 10, 1), CPH, utc(2026, 10, 19),
                                         utc(2026, 11, 1))
    # 20 October is summer time (UTC+2), 27 October winter time (UTC+1): 09:00 both days.
    assert found == [utc(2026, 10, 20, 7), utc(2026, 10, 27, 8)]


def test_and_across_the_spring_change():
    rule = schedule.preset_rule("weekly", "MO", time(9, 30))
    found = schedule.occurrences_between(rule, date(2026, 3, 1), CPH, utc(2026, 3, 20),
                                         utc(2026, 4, 1))
    assert found == [utc(2026, 3, 23, 8, 30), utc(2026, 3, 30, 7, 30)]


def test_a_period_runs_from_one_occurrence_to_the_next():
    rule = schedule.preset_rule("fortnightly", "TU", time(9, 0))
    period = schedule.period_at(rule, date(2026, 10, 1), CPH, utc(2026, 10, 20, 12))
    assert period == schedule.Period(utc(2026, 10, 13, 7), utc(2026, 10, 27, 8))
    assert period.contains(utc(2026, 10, 27, 7, 59)) and not period.contains(utc(2026, 10, 27, 8))


def test_nothing_is_due_before_the_first_occurrence_or_long_after_one():
    rule = schedule.preset_rule("weekly", "TU", time(9, 0))
    anchor = date(2026, 11, 1)
    assert schedule.due_period(rule, anchor, CPH, utc(2026, 11, 3, 7, 59)) is None
    assert schedule.due_period(rule, anchor, CPH, utc(2026, 11, 3, 8)).start == utc(2026, 11, 3, 8)
    late = utc(2026, 11, 3, 8) + schedule.CATCH_UP + timedelta(minutes=1)
    assert schedule.due_period(rule, anchor, CPH, late) is None


def test_a_period_in_another_time_zone():
    rule = schedule.preset_rule("monthly", "WE", time(14, 0))
    period = schedule.period_at(rule, date(2026, 1, 1), "America/New_York", utc(2026, 7, 2))
    assert period.start == utc(2026, 7, 1, 18)  # first Wednesday of July, 14:00 EDT
    assert period.end == utc(2026, 8, 5, 18)


@pytest.mark.parametrize("text", ["", "FREQ=MINUTELY", "FREQ=FOO", "DTSTART:20260101\nFREQ=DAILY",
                                  "BYDAY=TU"])
def test_a_rule_that_cannot_make_periods_is_refused(text):
    with pytest.raises(schedule.ScheduleError):
        schedule.clean_rule(text)


def test_a_raw_rule_is_accepted_and_normalised():
    assert schedule.clean_rule("RRULE:freq=weekly;byday=tu,th;byhour=9") == \
        "FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=9"


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(schedule.ScheduleError):
        schedule.zone("Mars/Olympus")
