"""Digest periods: weekly from Monday, fortnightly, or monthly from the 1st, at local midnight
of the collaboration's time zone (the same RRULE machinery as routines)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from coprod.common import utcnow
from coprod.digests.models import DigestCadence, DigestSettings
from coprod.extensions import db
from coprod.routines import schedule
from coprod.spaces.models import Collaboration

RULES = {
    DigestCadence.WEEKLY: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
    DigestCadence.FORTNIGHTLY: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
    DigestCadence.MONTHLY: "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=0;BYMINUTE=0;BYSECOND=0",
}
# Trends compare a period with this many before it.
HISTORY = 5


def settings_of(collaboration: Collaboration) -> DigestSettings:
    """The collaboration's settings, or the defaults (monthly, sent automatically, from the
    month the collaboration was created) when a coordinator never changed them."""
    found = db.session.get(DigestSettings, collaboration.id)
    if found is not None:
        return found
    created = collaboration.created_at.astimezone(schedule.zone(collaboration.timezone))
    return DigestSettings(collaboration_id=collaboration.id, cadence=DigestCadence.MONTHLY,
                          anchor_on=created.date().replace(day=1), send_automatically=True)


def _starts(settings: DigestSettings, timezone: str, until: datetime) -> list[datetime]:
    anchor = settings.anchor_on
    before_anchor = datetime.combine(anchor - timedelta(days=1), datetime.min.time(),
                                     schedule.zone(timezone))
    return schedule.occurrences_between(RULES[DigestCadence(settings.cadence)], anchor,
                                        timezone, before_anchor, until)


def closed_periods(collaboration: Collaboration, now: datetime | None = None
                   ) -> list[schedule.Period]:
    """Every period since the anchor that has ended by `now`, oldest first."""
    now = now or utcnow()
    settings = settings_of(collaboration)
    starts = _starts(settings, collaboration.timezone, now)
    return [schedule.Period(a, b) for a, b in zip(starts, starts[1:], strict=False)]


def period_at(collaboration: Collaboration, instant: datetime) -> schedule.Period | None:
    settings = settings_of(collaboration)
    return schedule.period_at(RULES[DigestCadence(settings.cadence)], settings.anchor_on,
                              collaboration.timezone, instant)


def period_of_day(collaboration: Collaboration, day: date) -> schedule.Period | None:
    """The period that contains a local day (for `coprod digests build --period 2026-11-01`)."""
    start = datetime.combine(day, datetime.min.time(), schedule.zone(collaboration.timezone))
    return period_at(collaboration, start)


def earlier_periods(collaboration: Collaboration, period: schedule.Period,
                    count: int = HISTORY) -> list[schedule.Period]:
    """Up to `count` periods before `period`, oldest first."""
    closed = [p for p in closed_periods(collaboration, period.start) if p.end <= period.start]
    return closed[-count:]
