"""Cadences in the routine's time zone: presets, raw RRULEs, periods, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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


# -- unbounded rules (issue 11, item 7) -------------------------------------------------------

NOW = utc(2026, 12, 3, 8)
EVERY_SECOND = ("FREQ=HOURLY;BYMINUTE=" + ",".join(map(str, range(60)))
                + ";BYSECOND=" + ",".join(map(str, range(60))))
NEVER = ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
         "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31;BYHOUR=9", "FREQ=MONTHLY;INTERVAL=12;BYMONTH=3"]


@pytest.mark.parametrize("rule", [EVERY_SECOND, "FREQ=HOURLY;BYMINUTE=0,30",
                                  "FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,30",
                                  "FREQ=WEEKLY;BYDAY=TU;BYHOUR=9;BYSECOND=0,1"])
def test_occurrences_closer_than_an_hour_are_refused_whatever_the_frequency(rule):
    with pytest.raises(schedule.TooDense):
        schedule.check_rule(schedule.clean_rule(rule), date(2026, 11, 2), CPH, NOW)


@pytest.mark.parametrize("rule", NEVER + ["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"])
def test_a_rule_that_never_comes_round_within_the_horizon_is_refused(rule):
    with pytest.raises(schedule.NeverDue):
        schedule.check_rule(schedule.clean_rule(rule), date(2026, 1, 1), CPH, NOW)


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=HOURLY;INTERVAL=3;BYDAY=MO,FR",
                                  "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1",
                                  schedule.preset_rule("fortnightly", "TU", time(9, 0))])
def test_ordinary_rules_pass_the_check(rule):
    schedule.check_rule(rule, date(2026, 1, 1), CPH, NOW)


def test_anchors_are_bounded():
    today = date(2026, 12, 3)
    assert schedule.anchor_problem(date(1900, 1, 1), today) == "past"
    assert schedule.anchor_problem(date(2100, 1, 1), today) == "future"
    assert schedule.anchor_problem(date(2024, 1, 1), today) is None


def _scan_bounded(spy):
    # dateutil scans empty periods up to the year 9999: never more than one calendar cycle.
    assert spy["starts"] and all(
        start.year >= 9999 - schedule.CALENDAR_CYCLE_YEARS - 5 for start in spy["starts"])


@pytest.mark.parametrize("rule", NEVER)
def test_a_stored_rule_that_never_comes_round_is_evaluated_in_bounded_time(rule, dateutil_spy):
    anchor = date(1900, 1, 1)  # stored before anchors were checked
    assert schedule.next_occurrence(rule, anchor, CPH, NOW) is None
    assert schedule.due_period(rule, anchor, CPH, NOW) is None
    _scan_bounded(dateutil_spy)


def test_an_old_anchor_is_never_iterated_from(dateutil_spy):
    rule = schedule.preset_rule("fortnightly", "TU", time(9, 0))
    anchor = date(1900, 1, 2)  # a Tuesday
    period = schedule.period_at(rule, anchor, CPH, NOW)
    assert schedule.next_occurrence(rule, anchor, CPH, NOW) == period.end
    assert period.end - period.start == timedelta(weeks=2) and period.contains(NOW)
    # 1900-01-02 + whole fortnights: the periods keep their weeks.
    assert (period.start.astimezone(ZoneInfo(CPH)).date() - anchor).days % 14 == 0
    assert dateutil_spy["steps"] < 40
    _scan_bounded(dateutil_spy)


def test_a_stored_rule_with_one_second_periods_is_refused_after_a_bounded_walk(dateutil_spy):
    with pytest.raises(schedule.TooDense):
        schedule.period_at(EVERY_SECOND, date(1900, 1, 1), CPH, NOW)
    assert dateutil_spy["steps"] <= schedule.MAX_STEPS + 1


def test_re_reading_a_rule_from_a_recent_start_keeps_its_occurrences():
    """The aligned start and the 400-year shift change nothing: the same occurrences as
    dateutil read from the anchor itself."""
    from dateutil.rrule import rrulestr

    rules = ["FREQ=WEEKLY;INTERVAL=3", "FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR;BYHOUR=14",
             "FREQ=YEARLY;INTERVAL=2", "FREQ=DAILY;INTERVAL=3;BYHOUR=2,14;BYMINUTE=30",
             "FREQ=HOURLY;INTERVAL=7;BYDAY=MO,FR", "FREQ=MONTHLY;BYMONTHDAY=31",
             "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SU,WE;BYHOUR=7"]
    tz = ZoneInfo(CPH)
    for rule in rules:
        for anchor in (date(2023, 1, 31), date(2024, 2, 29), date(2025, 7, 16)):
            start = datetime.combine(anchor, time.min, tz)
            expected = [o.astimezone(UTC) for o in rrulestr(rule, dtstart=start).between(
                datetime(2026, 5, 1, tzinfo=tz), datetime(2026, 12, 1, tzinfo=tz), inc=True)]
            found = schedule.occurrences_between(rule, anchor, CPH, utc(2026, 4, 30, 22),
                                                 utc(2026, 11, 30, 23))
            assert found == expected, (rule, anchor)
