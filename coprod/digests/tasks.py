"""Digests built on a schedule: beat's sweep finds closed periods without a digest and queues
one build per (collaboration, period); a worker builds it and, when the collaboration sends
automatically, sends it.

The sweep looks only at the latest closed period of each active collaboration and at any
period that closed within RECENT: older missing digests are `coprod digests backfill`'s job,
so a new collaboration (or a changed cadence) never floods the workers or the members'
inboxes with the past. A build is idempotent (the unique key of build.build); two builds of the
same period at once leave one digest, the loser rolls back and does nothing else.
"""

from __future__ import annotations

import importlib.util
import logging
from datetime import datetime, timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from coprod.common import utcnow
from coprod.digests import build, periods
from coprod.digests.models import Digest, DigestStatus
from coprod.extensions import db
from coprod.routines import schedule
from coprod.spaces.models import Collaboration, CollaborationStatus

log = logging.getLogger(__name__)

BUILD_TASK = "coprod.digests.tasks.build_digest"
SENDING_MODULE = "coprod.digests.sending"
# Periods that closed this recently are built by the sweep even when a later one closed too.
RECENT = timedelta(days=1)


def missing(collaboration: Collaboration, now: datetime, *, every: bool = False
            ) -> list[schedule.Period]:
    """Closed periods of the collaboration without a digest: the sweep's (the latest and the
    recently closed ones) or, with `every`, all of them (backfill), oldest first."""
    closed = periods.closed_periods(collaboration, now)
    if not every:
        closed = [p for i, p in enumerate(closed)
                  if i == len(closed) - 1 or now - p.end <= RECENT]
    if not closed:
        return []
    built = set(db.session.scalars(select(Digest.period_start).where(
        Digest.collaboration_id == collaboration.id,
        Digest.period_start.in_([p.start for p in closed]))))
    return [p for p in closed if p.start not in built]


def active_collaborations(collaboration_id: int | None = None) -> list[Collaboration]:
    stmt = select(Collaboration).where(Collaboration.status == CollaborationStatus.ACTIVE)
    if collaboration_id is not None:
        stmt = stmt.where(Collaboration.id == collaboration_id)
    return list(db.session.scalars(stmt.order_by(Collaboration.id)))


def sweep(now: datetime | None = None) -> int:
    """Queue a build for each missing digest the sweep covers; returns how many were queued.

    Safe to run as often as beat likes: a build queued twice builds once.
    """
    now = now or utcnow()
    due = [(c.id, p) for c in active_collaborations() for p in missing(c, now)]
    db.session.rollback()
    task = current_app.extensions["celery"].tasks[BUILD_TASK]
    queued = 0
    for collaboration_id, period in due:
        try:
            task.apply_async(args=(collaboration_id, period.start.isoformat()))
        except Exception as exc:  # kombu raises several types; the next sweep tries again
            log.warning("broker unavailable (%s); digests wait for the next sweep", exc)
            break
        queued += 1
    return queued


def build_one(collaboration_id: int, period_start: datetime, *, rebuild: bool = False,
              now: datetime | None = None) -> Digest | None:
    """Build and commit one period's digest; None when the collaboration or the period is gone,
    or when a concurrent build got there first (its digest stands)."""
    collaboration = db.session.get(Collaboration, collaboration_id)
    period = (periods.period_at(collaboration, period_start)
              if collaboration is not None else None)
    if period is None or period.start != period_start:
        db.session.rollback()
        log.warning("digest of collaboration %s from %s: no such period", collaboration_id,
                    period_start.isoformat())
        return None
    try:
        digest = build.build(collaboration, period, rebuild=rebuild, now=now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("digest of collaboration %s from %s was built concurrently", collaboration_id,
                 period_start.isoformat())
        return None
    return digest


def send_if_automatic(digest: Digest) -> bool:
    """Send a freshly built digest when its collaboration sends automatically (and the sending
    module is installed); otherwise it waits for a coordinator's review."""
    collaboration = db.session.get(Collaboration, digest.collaboration_id)
    if digest.status != DigestStatus.BUILT or not periods.settings_of(collaboration
                                                                      ).send_automatically:
        return False
    if importlib.util.find_spec(SENDING_MODULE) is None:
        return False
    from coprod.routines.tasks import link_context

    with link_context():
        importlib.import_module(SENDING_MODULE).send(digest)
    db.session.commit()
    return True


@shared_task
def sweep_digests() -> int:
    """Beat's sweep: queue the builds of the closed periods that have no digest yet."""
    queued = sweep()
    log.info("digests swept: %s builds queued", queued)
    return queued


@shared_task
def build_digest(collaboration_id: int, period_start: str) -> int | None:
    """Build one digest (once, however often delivered) and send it if the collaboration sends
    automatically; returns the digest's id, or None when there is nothing to do."""
    digest = build_one(collaboration_id, datetime.fromisoformat(period_start))
    if digest is None:
        return None
    send_if_automatic(digest)
    return digest.id


@shared_task
def embed_recent_reflections() -> int:
    """Beat's sweep: store the vectors of reflections written or edited lately
    (coprod/digests/vectors.py), so the digest build does not wait for them; returns how many
    texts were embedded."""
    from coprod.digests import vectors

    embedded = vectors.embed_recent()
    db.session.commit()
    return embedded
