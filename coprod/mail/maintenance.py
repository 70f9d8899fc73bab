"""What an operator sees of the outbox and does with it (`coprod outbox status|retry`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from coprod.common import utcnow
from coprod.extensions import db
from coprod.mail.models import OutboxEmail, OutboxStatus

LAST_ERRORS = 5


@dataclass
class OutboxReport:
    counts: dict[OutboxStatus, int]
    oldest_pending: timedelta | None
    # (id, status, to_address, error) of the newest rows with an error, newest first.
    last_errors: list[tuple[int, OutboxStatus, str, str]] = field(default_factory=list)


def report(now: datetime | None = None) -> OutboxReport:
    """Counts per status, how long the oldest pending email has waited, the last errors."""
    now = now or utcnow()
    counted = dict(tuple(row) for row in db.session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)))
    oldest = db.session.scalar(select(func.min(OutboxEmail.created_at))
                               .where(OutboxEmail.status == OutboxStatus.PENDING))
    errors = db.session.execute(
        select(OutboxEmail.id, OutboxEmail.status, OutboxEmail.to_address,
               OutboxEmail.last_error)
        .where(OutboxEmail.last_error.is_not(None),
               OutboxEmail.status.in_([OutboxStatus.PENDING, OutboxStatus.FAILED]))
        .order_by(OutboxEmail.id.desc())
        .limit(LAST_ERRORS)).all()
    return OutboxReport(counts={status: counted.get(status, 0) for status in OutboxStatus},
                        oldest_pending=now - oldest if oldest else None,
                        last_errors=[tuple(row) for row in errors])


def retry_failed(ids: Iterable[int] = ()) -> list[int]:
    """Put failed rows (all, or those of `ids`) back as pending, with fresh attempts and due
    now; flushed, not committed. Returns their ids; the caller commits, then enqueues them."""
    wanted = [OutboxEmail.status == OutboxStatus.FAILED]
    ids = list(ids)
    if ids:
        wanted.append(OutboxEmail.id.in_(ids))
    return sorted(db.session.scalars(
        update(OutboxEmail).where(*wanted)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow())
        .returning(OutboxEmail.id).execution_options(synchronize_session=False)).all())
