"""When a routine prompts: iCalendar recurrence rules read in the routine's own time zone.

A routine's cadence is an RRULE (RFC 5545, read by python-dateutil) anchored at a local date.
Occurrences are wall-clock times in the routine's time zone ("Tuesday 09:00 in Copenhagen"),
so they stay at 09:00 local across daylight-saving changes; they are turned into UTC instants
only at the end. Each occurrence opens a *period* that lasts until the next occurrence: prompts,
responses and nudges belong to a period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How far back a sweep still prompts a period it missed (beat down for a while); older
# periods are skipped rather than prompted late.
CATCH_UP = timedelta(days=1)
# The longest a routine may wait between prompts; bounds the search for the next occurrence.
HORIZON = timedelta(days=400)


class ScheduleError(ValueError):
    """A cadence that cannot be read: the message says what is wrong, for the form."""


@dataclass(frozen=True)
class Period:
    """One occurrence of a routine and the time until the next, as UTC instants."""

    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"Unknown time zone: {name}") from None


def preset_rule(cadence: str, weekday: str, at: time) -> str:
    """The RRULE of a form preset: weekly, fortnightly or monthly on a weekday at a time.

    Monthly means the first such weekday of each month ("the first Tuesday").
    """
    if weekday not in WEEKDAYS:
        raise ScheduleError(f"Unknown weekday: {weekday}")
    clock = f"BYHOUR={at.hour};BYMINUTE={at.minute};BYSECOND=0"
    if cadence == "weekly":
        return f"FREQ=WEEKLY;BYDAY={weekday};{clock}"
    if cadence == "fortnightly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday};{clock}"
    if cadence == "monthly":
        return f"FREQ=MONTHLY;BYDAY=1{weekday};{clock}"
    raise ScheduleError(f"Unknown cadence: {cadence}")


def clean_rule(text: str) -> str:
    """A raw RRULE as typed (with or without the "RRULE:" prefix), checked and normalised.

    Refuses what would make a period ill-defined: a DTSTART inside (the anchor is separate),
    COUNT/UNTIL-less rules are fine, but sub-hourly frequencies are not (one prompt per period
    per person; a period shorter than an hour is noise, not a routine).
    """
    rule = (text or "").strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:].strip()
    if not rule:
        raise ScheduleError("Give a recurrence rule, e.g. FREQ=WEEKLY;BYDAY=TU;BYHOUR=9")
    if "\n" in rule or "DTSTART" in rule.upper():
        raise ScheduleError("Give one RRULE line without DTSTART.")
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    if parts.get("FREQ") in ("SECONDLY", "MINUTELY"):
        raise ScheduleError("A routine prompts at most once an hour.")
    try:
        rrulestr(rule, dtstart=datetime(2026, 1, 1))
    except (ValueError, TypeError) as exc:
        raise ScheduleError("This is not a recurrence rule the calendar understands; write it "
                            "like FREQ=WEEKLY;BYDAY=TU;BYHOUR=9") from exc
    return rule.upper()


def _rule(rule: str, anchor: date, tz: ZoneInfo):
    """The rule anchored at local midnight of `anchor`, with wall-clock occurrences."""
    return rrulestr(rule, dtstart=datetime.combine(anchor, time.min, tz))


def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC)


def occurrences_between(rule: str, anchor: date, tz_name: str, after: datetime,
                        until: datetime) -> list[datetime]:
    """UTC instants of the occurrences in (after, until]."""
    tz = zone(tz_name)
    recurrence = _rule(rule, anchor, tz)
    found = recurrence.between(after.astimezone(tz), until.astimezone(tz), inc=True)
    return [_utc(o) for o in found if after < _utc(o) <= until]


def period_at(rule: str, anchor: date, tz_name: str, instant: datetime) -> Period | None:
    """The period that contains `instant` (None before the first occurrence or after the
    last one's period ended)."""
    tz = zone(tz_name)
    recurrence = _rule(rule, anchor, tz)
    local = instant.astimezone(tz)
    start = recurrence.before(local, inc=True)
    if start is None:
        return None
    end = recurrence.after(start, inc=False)
    if end is None:  # the last occurrence of a COUNT/UNTIL rule: a period as long as the one
        previous = recurrence.before(start, inc=False)  # before it, or a week
        end = start + ((start - previous) if previous is not None else timedelta(weeks=1))
    if local >= end:
        return None
    return Period(_utc(start), _utc(end))


def due_period(rule: str, anchor: date, tz_name: str, now: datetime) -> Period | None:
    """The period to prompt now: the current one, if it began at most CATCH_UP ago."""
    current = period_at(rule, anchor, tz_name, now)
    if current is None or now - current.start > CATCH_UP:
        return None
    return current


def next_occurrence(rule: str, anchor: date, tz_name: str, after: datetime) -> datetime | None:
    """The first occurrence after `after` (UTC), for showing "next prompt on ..."."""
    tz = zone(tz_name)
    found = _rule(rule, anchor, tz).after(after.astimezone(tz), inc=False)
    return _utc(found) if found is not None else None
