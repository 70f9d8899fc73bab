"""When a routine prompts: iCalendar recurrence rules read in the routine's own time zone.

A routine's cadence is an RRULE (RFC 5545, read by python-dateutil) anchored at a local date.
Occurrences are wall-clock times in the routine's time zone ("Tuesday 09:00 in Copenhagen"),
so they stay at 09:00 local across daylight-saving changes; they are turned into UTC instants
only at the end. Each occurrence opens a *period* that lasts until the next occurrence: prompts,
responses and nudges belong to a period.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import parse as parse_datetime
from dateutil.rrule import rrulestr

from coprod.i18n import lazy_gettext as _l

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# How far back a sweep still prompts a period it missed (beat down for a while); older
# periods are skipped rather than prompted late.
CATCH_UP = timedelta(days=1)
# The longest a routine may wait between prompts; bounds the search for the next occurrence.
HORIZON = timedelta(days=400)
# The shortest time between two prompts of a routine.
MIN_GAP = timedelta(hours=1)
# How many occurrences after now a new rule is checked over.
CHECKED = 50
# The most occurrences one evaluation walks through; a rule that needs more is refused.
MAX_STEPS = 20_000
# An anchor (the local day a rule is read from) is at most this far in the past or future.
ANCHOR_PAST = timedelta(days=5 * 365)
ANCHOR_FUTURE = timedelta(days=366)
# The Gregorian calendar repeats itself exactly every 400 years.
CALENDAR_CYCLE_YEARS = 400
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")


class ScheduleError(ValueError):
    """A cadence that cannot be read: the message says what is wrong, for the form. Messages
    are lazy translations: str(error) gives them in the language of whoever reads them then
    (a form, an API answer), not of whoever loaded this module."""


class TooDense(ScheduleError):
    """Two occurrences of the rule are closer than MIN_GAP."""


class NeverDue(ScheduleError):
    """The rule does not occur within HORIZON."""


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
        raise ScheduleError(_l("Unknown time zone: %(name)s", name=name)) from None


def preset_rule(cadence: str, weekday: str, at: time) -> str:
    """The RRULE of a form preset: weekly, fortnightly or monthly on a weekday at a time.

    Monthly means the first such weekday of each month ("the first Tuesday").
    """
    if weekday not in WEEKDAYS:
        raise ScheduleError(_l("Unknown weekday: %(weekday)s", weekday=weekday))
    clock = f"BYHOUR={at.hour};BYMINUTE={at.minute};BYSECOND=0"
    if cadence == "weekly":
        return f"FREQ=WEEKLY;BYDAY={weekday};{clock}"
    if cadence == "fortnightly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday};{clock}"
    if cadence == "monthly":
        return f"FREQ=MONTHLY;BYDAY=1{weekday};{clock}"
    raise ScheduleError(_l("Unknown cadence: %(cadence)s", cadence=cadence))


def clean_rule(text: str) -> str:
    """A raw RRULE as typed (with or without the "RRULE:" prefix), checked and normalised.

    Refuses what would make a period ill-defined: a DTSTART inside (the anchor is separate),
    sub-hourly frequencies (one prompt per period per person; a period shorter than an hour is
    noise, not a routine). Whether the rule, read from its anchor, ever comes round and how
    close its occurrences are is check_rule's part.
    """
    rule = (text or "").strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:].strip()
    if not rule:
        raise ScheduleError(_l("Give a recurrence rule, e.g. FREQ=WEEKLY;BYDAY=TU;BYHOUR=9"))
    if "\n" in rule or "\r" in rule or "DTSTART" in rule.upper():
        raise ScheduleError(_l("Give one RRULE line without DTSTART."))
    parts = _parts(rule)
    if parts.get("FREQ") in ("SECONDLY", "MINUTELY"):
        raise TooDense(_l("A routine prompts at most once an hour."))
    try:
        rrulestr(rule, dtstart=datetime(2026, 1, 1))
        if parts.get("FREQ") not in FREQUENCIES or "BYEASTER" in parts:
            raise ValueError(rule)
        _until(parts.get("UNTIL"), ZoneInfo("UTC"))
    except (ValueError, TypeError, OverflowError, ScheduleError) as exc:
        raise ScheduleError(_l("This is not a recurrence rule the calendar understands; write "
                               "it like FREQ=WEEKLY;BYDAY=TU;BYHOUR=9")) from exc
    return rule.upper()


def check_rule(rule: str, anchor: date, tz_name: str, now: datetime) -> None:
    """Refuse a rule that, read from `anchor`, has two occurrences closer than MIN_GAP
    (TooDense) or none within HORIZON from now or from the anchor (NeverDue).

    The check itself is bounded: it walks at most CHECKED occurrences after now (and those of
    the aligned stretch before it), within HORIZON, through _walk's bounded evaluation.
    """
    tz = zone(tz_name)
    local = max(_local(now, tz), datetime.combine(anchor, time.min))
    window_end = local + HORIZON
    previous = None
    ahead = 0
    for occurrence in _walk(rule, anchor, tz, local, window_end):
        if occurrence > window_end:
            break
        if previous is not None and occurrence - previous < MIN_GAP:
            raise TooDense(_l("A routine prompts at most once an hour."))
        previous = occurrence
        if occurrence > local:
            ahead += 1
            if ahead >= CHECKED:
                return
    if not ahead:
        raise NeverDue(_l("This rule does not come round within a year."))


def anchor_problem(anchor: date, today: date) -> str | None:
    """"past" or "future" when an anchor lies outside what a schedule may start from."""
    if anchor < today - ANCHOR_PAST:
        return "past"
    if anchor > today + ANCHOR_FUTURE:
        return "future"
    return None


# -- bounded evaluation ----------------------------------------------------------------------
#
# dateutil iterates a rule from its DTSTART, and between two occurrences it may scan any number
# of empty periods: a rule that never occurs again (BYMONTH=2;BYMONTHDAY=30) is scanned up to
# the year 9999, hours or days at a time (10 to 100 s), and UNTIL or COUNT do not stop a scan
# that finds nothing. So a rule is never evaluated from its stored anchor:
#
# 1. it is re-read from an aligned start shortly before the time asked about: whole intervals
#    of its frequency after the anchor, with the values dateutil would take from DTSTART
#    (weekday, day of month, midnight) written into the rule, so the occurrences are the same;
# 2. it is evaluated 400*k years later: the Gregorian calendar repeats exactly every 400 years
#    (146097 days, 20871 weeks, 4800 months), so the occurrences are the same shifted by
#    400*k years, and a scan that finds nothing ends at the year 9999 after at most ~400
#    years instead of ~8000;
# 3. no walk goes through more than MAX_STEPS occurrences (TooDense otherwise).

def _parts(rule: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)


def _until(value: str | None, tz: ZoneInfo) -> datetime | None:
    """UNTIL as a local wall-clock time (a UTC value is converted, a floating one kept)."""
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except (ValueError, OverflowError):
        raise ScheduleError(_l("UNTIL is not a date and time: %(value)s", value=value)) from None
    return moment.astimezone(tz).replace(tzinfo=None) if moment.tzinfo else moment


def _explicit(parts: dict[str, str], anchor: date) -> dict[str, str]:
    """The rule with what dateutil takes from a DTSTART at local midnight of `anchor`
    written out, so that it can be read from another start."""
    parts = dict(parts)
    freq = parts.get("FREQ")
    if not any(k in parts for k in ("BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")):
        if freq == "YEARLY":
            parts.setdefault("BYMONTH", str(anchor.month))
            parts["BYMONTHDAY"] = str(anchor.day)
        elif freq == "MONTHLY":
            parts["BYMONTHDAY"] = str(anchor.day)
        elif freq == "WEEKLY":
            parts["BYDAY"] = WEEKDAYS[anchor.weekday()]
    if freq in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"):
        parts.setdefault("BYHOUR", "0")
    parts.setdefault("BYMINUTE", "0")
    parts.setdefault("BYSECOND", "0")
    return parts


def _aligned_start(parts: dict[str, str], anchor: date, target: datetime) -> datetime:
    """The latest start at or before `target` that is a whole number of intervals after the
    anchor (the anchor itself when `target` is before it, or when COUNT counts from it)."""
    first = datetime.combine(anchor, time.min)
    if target <= first or "COUNT" in parts:
        return first
    n = max(int(parts.get("INTERVAL") or 1), 1)
    freq = parts["FREQ"]
    if freq == "YEARLY":
        k = (target.year - anchor.year) // n
        return datetime(anchor.year + k * n, 1, 1) if k else first
    if freq == "MONTHLY":
        k = ((target.year - anchor.year) * 12 + target.month - anchor.month) // n
        if not k:
            return first
        month = anchor.year * 12 + anchor.month - 1 + k * n
        return datetime(month // 12, month % 12 + 1, 1)
    if freq == "WEEKLY":
        week_start = WEEKDAYS.index(parts.get("WKST", "MO"))
        first_week = first - timedelta(days=(anchor.weekday() - week_start) % 7)
        k = (target - first_week).days // (7 * n)
        return first_week + timedelta(weeks=k * n) if k else first
    step = timedelta(days=n) if freq == "DAILY" else timedelta(hours=n)
    return first + ((target - first) // step) * step


def _dateutil_rule(text: str, dtstart: datetime):
    """The dateutil rule every evaluation iterates (tests watch where it starts)."""
    return rrulestr(text, dtstart=dtstart, cache=False)


def _walk(rule: str, anchor: date, tz: ZoneInfo, near: datetime,
          need_until: datetime) -> Iterator[datetime]:
    """The rule's local wall-clock occurrences (naive), in order, from an aligned start at or
    before `near`; certain to reach `need_until` (both naive local times)."""
    parts = _parts(rule)
    until = _until(parts.pop("UNTIL", None), tz)
    parts = _explicit(parts, anchor)
    start = _aligned_start(parts, anchor, near)
    years = max((9998 - need_until.year) // CALENDAR_CYCLE_YEARS, 0) * CALENDAR_CYCLE_YEARS
    text = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        recurrence = _dateutil_rule(text, start.replace(year=start.year + years))
        for steps, occurrence in enumerate(recurrence, 1):
            if steps > MAX_STEPS:
                raise TooDense(_l("A routine prompts at most once an hour."))
            local = occurrence.replace(year=occurrence.year - years)
            if until is not None and local > until:
                return
            yield local
    except ScheduleError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise ScheduleError(_l("Cannot read the rule %(rule)s: %(problem)s", rule=rule,
                                 problem=str(exc))) from None


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC)


def occurrences_between(rule: str, anchor: date, tz_name: str, after: datetime,
                        until: datetime) -> list[datetime]:
    """UTC instants of the occurrences in (after, until]."""
    tz = zone(tz_name)
    low, high = _local(after, tz), _local(until, tz)
    found = []
    for occurrence in _walk(rule, anchor, tz, low, high):
        if occurrence > high:
            break
        if occurrence >= low:
            found.append(_utc(occurrence, tz))
    return [o for o in found if after < o <= until]


def period_at(rule: str, anchor: date, tz_name: str, instant: datetime) -> Period | None:
    """The period that contains `instant` (None before the first occurrence, after the last
    one's period ended, or when no occurrence lies within HORIZON before it)."""
    tz = zone(tz_name)
    local = _local(instant, tz)
    ends = any(key in _parts(rule) for key in ("UNTIL", "COUNT"))
    for lookback in (timedelta(days=2), HORIZON):
        previous = start = end = None
        for occurrence in _walk(rule, anchor, tz, local - lookback, local + HORIZON):
            if occurrence > local:
                end = occurrence
                break
            previous, start = start, occurrence
        if start is not None or (end is None and not ends):
            break  # found; or the rule never comes round again, so looking further back
            # would only find a period that ended long ago
    if start is None:
        return None
    if end is None:  # the last occurrence of a COUNT/UNTIL rule: a period as long as the one
        end = start + ((start - previous) if previous is not None  # before it, or a week
                       else timedelta(weeks=1))
    if local >= end:
        return None
    if end - start < MIN_GAP:  # a rule stored before rules were checked
        raise TooDense(_l("A routine prompts at most once an hour."))
    return Period(_utc(start, tz), _utc(end, tz))


def due_period(rule: str, anchor: date, tz_name: str, now: datetime) -> Period | None:
    """The period to prompt now: the current one, if it began at most CATCH_UP ago."""
    current = period_at(rule, anchor, tz_name, now)
    if current is None or now - current.start > CATCH_UP:
        return None
    return current


def next_occurrence(rule: str, anchor: date, tz_name: str, after: datetime) -> datetime | None:
    """The first occurrence after `after` (UTC), for showing "next prompt on ..."."""
    tz = zone(tz_name)
    local = _local(after, tz)
    found = None
    for occurrence in _walk(rule, anchor, tz, local, local + HORIZON):
        if found is not None:
            if occurrence - found < MIN_GAP:  # a rule stored before rules were checked
                raise TooDense(_l("A routine prompts at most once an hour."))
            break
        if occurrence > local:
            found = occurrence
    return _utc(found, tz) if found is not None else None
