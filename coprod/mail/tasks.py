"""Worker side of the outbox: send one row (idempotently) and relay rows left pending."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select

from coprod.common import utcnow
from coprod.extensions import db
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.mail.sending import TRANSIENT_ERRORS, deliver

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def _claim(outbox_id: int) -> OutboxEmail | None:
    """Lock the row (skipping one another worker holds) if it still needs sending."""
    stmt = select(OutboxEmail).where(
        OutboxEmail.id == outbox_id, OutboxEmail.status == OutboxStatus.PENDING
    )
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return db.session.scalar(stmt)


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def send_outbox_email(self, outbox_id: int) -> str:
    row = _claim(outbox_id)
    if row is None:
        db.session.rollback()
        return "nothing to do"
    row.attempts += 1
    try:
        deliver(row)
    except TRANSIENT_ERRORS as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = OutboxStatus.FAILED
        db.session.commit()
        if row.status == OutboxStatus.PENDING:
            raise self.retry(exc=exc, countdown=min(600, 2 ** row.attempts * 5)) from exc
        return "failed"
    except Exception as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        row.status = OutboxStatus.FAILED
        db.session.commit()
        log.exception("outbox email %s failed permanently", outbox_id)
        return "failed"
    row.status = OutboxStatus.SENT
    row.sent_at = utcnow()
    row.last_error = None
    db.session.commit()
    return "sent"


@shared_task
def relay_outbox(older_than_seconds: int = 60) -> int:
    """Enqueue rows still pending after a while (the broker was down at commit time)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.created_at <= cutoff)
        .order_by(OutboxEmail.id)
        .limit(500)
    ).all()
    db.session.rollback()
    for outbox_id in ids:
        send_outbox_email.delay(outbox_id)
    return len(ids)
