"""A routine whose period is due now: for tests that run the sweep at the real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coprod.extensions import db
from coprod.routines.models import Routine


def due_routine(collaboration, **fields) -> Routine:
    """A daily routine (UTC) whose current period began about an hour ago and ends in about
    23 hours: due for a sweep now, and the same period throughout a test."""
    started = datetime.now(UTC) - timedelta(hours=1)
    routine = Routine(collaboration_id=collaboration.id, name=fields.pop("name", "Fortnight"),
                      rule=f"FREQ=DAILY;BYHOUR={started.hour};BYMINUTE=0;BYSECOND=0",
                      anchor_on=started.date() - timedelta(days=7), timezone="UTC",
                      questions=[], **fields)
    db.session.add(routine)
    db.session.flush()
    return routine
