"""Worker side of the outbox: send one row (idempotently) and relay rows left pending.

Tasks take row ids and run inside an app context (coprod.celery.FlaskTask), whose teardown
removes the session: each task starts with a fresh one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from coprod.common import utcnow
from coprod.extensions import db
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.mail.outbox import enqueue_send
from coprod.mail.sending import deliver, is_transient

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 10
# The longest countdown a retry may get; the broker's visibility timeout must exceed it.
RETRY_MAX_SECONDS = 600
RELAY_GRACE_SECONDS = 60
RELAY_BATCH = 500


def retry_delay(attempts: int) -> int:
    """Exponential backoff after the n-th failed attempt: 10 s, 20 s, 40 s ... capped."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


def count_attempt(outbox_id: int) -> int | None:
    """Count an attempt on a pending row in a transaction of its own, before anything is
    sent; None if the row is not pending (sent, failed, gone) or another worker sends it now.

    Committed first, so that a worker killed mid-send has still used the attempt up: a row
    that kills every worker trying it is redelivered (or relayed) at most MAX_ATTEMPTS times.
    """
    target = select(OutboxEmail.id).where(OutboxEmail.id == outbox_id,
                                          OutboxEmail.status == OutboxStatus.PENDING)
    if db.engine.dialect.name == "postgresql":
        target = target.with_for_update(skip_locked=True)
    attempts = db.session.scalar(
        update(OutboxEmail).where(OutboxEmail.id.in_(target.scalar_subquery()))
        .values(attempts=OutboxEmail.attempts + 1).returning(OutboxEmail.attempts)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return attempts


def _claim(outbox_id: int) -> OutboxEmail | None:
    """Lock the row for this attempt if it still needs sending.

    PostgreSQL: a row lock, skipping a row another worker is sending right now.
    SQLite has no row locks: an UPDATE takes the database's write lock until commit, so a
    second worker waits and then finds the row no longer pending.
    """
    pending = (OutboxEmail.id == outbox_id, OutboxEmail.status == OutboxStatus.PENDING)
    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(select(OutboxEmail).where(*pending)
                                 .with_for_update(skip_locked=True)
                                 .execution_options(populate_existing=True))
    claimed = db.session.execute(
        update(OutboxEmail).where(*pending).values(attempts=OutboxEmail.attempts)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    return db.session.get(OutboxEmail, outbox_id, populate_existing=True)


def _give_up(outbox_id: int, attempts: int) -> str:
    """The capped redeliveries: a row whose attempts all ended with the worker lost."""
    db.session.execute(
        update(OutboxEmail).where(OutboxEmail.id == outbox_id,
                                  OutboxEmail.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED,
                last_error=f"gave up after {attempts - 1} attempts; the worker was lost "
                           "while sending (killed, out of memory?)")
        .execution_options(synchronize_session=False))
    db.session.commit()
    log.error("outbox email %s failed for good: %s attempts, the worker lost each time",
              outbox_id, attempts - 1)
    return "failed"


def _content_models() -> dict[str, type]:
    from coprod.digests.models import Digest
    from coprod.messages.models import Message
    from coprod.reflections.models import ImprovementAction, Reflection, Reply

    return {"reflection": Reflection, "reply": Reply, "message": Message,
            "action": ImprovementAction, "digest": Digest}


def _withdrawn(obj) -> bool:
    """A withdrawn reflection or reply (or a reply under a withdrawn reflection) says nothing."""
    parent = getattr(obj, "reflection", None)
    return any(getattr(o, "withdrawn_at", None) is not None for o in (obj, parent))


def still_readable(row: OutboxEmail) -> str | None:
    """Why an email about content must not go out now, or None when it may.

    Consent may be withdrawn, an audience narrowed or a member removed between queuing and
    sending: the policy is asked again, for the recipient, at the moment of sending.
    """
    from coprod import policy
    from coprod.accounts.models import User

    if not row.about:
        return None
    kind, _, ident = row.about.partition(":")
    model = _content_models().get(kind)
    obj = db.session.get(model, int(ident)) if model and ident.isdigit() else None
    user = db.session.get(User, row.recipient_id) if row.recipient_id else None
    if obj is None or _withdrawn(obj):
        return f"{row.about} is gone or withdrawn"
    if user is None or not user.is_active:
        return f"the recipient of {row.about} no longer has an account"
    if not policy.may(policy.actor_for(user), "read", obj):
        return f"the recipient may no longer read {row.about}"
    return None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def send_outbox_email(self, outbox_id: int) -> str:
    """Deliver one outbox row once; a row already sent (or gone) is left alone."""
    attempts = count_attempt(outbox_id)
    if attempts is None:
        return "nothing to do"
    if attempts > MAX_ATTEMPTS:
        return _give_up(outbox_id, attempts)
    row = _claim(outbox_id)
    if row is None:
        db.session.rollback()
        return "nothing to do"
    refusal = still_readable(row)
    if refusal is not None:
        row.status = OutboxStatus.CANCELLED
        row.last_error = refusal
        db.session.commit()
        log.info("outbox email %s cancelled: %s", outbox_id, refusal)
        return "cancelled"
    try:
        deliver(row)
    except Exception as exc:
        return _record_failure(self, row, exc)
    # Accepted by the server (250 after the final dot): only now is the row sent. A worker
    # killed before this commit leaves it pending, and it goes again with the same
    # Message-ID (coprod.mail.sending).
    row.status = OutboxStatus.SENT
    row.sent_at = utcnow()
    row.last_error = None
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.error("outbox email %s was delivered but could not be recorded as sent; it will "
                  "be sent again with the same Message-ID", outbox_id)
        raise
    return "sent"


def _record_failure(task, row: OutboxEmail, exc: Exception) -> str:
    """Keep the error on the row; retry later if it may pass, else mark the row failed."""
    row.last_error = _error_text(exc)
    row.sent_at = None
    if not is_transient(exc) or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED
        db.session.commit()
        log.error("outbox email %s failed for good: %s", row.id, row.last_error)
        return "failed"
    row.status = OutboxStatus.PENDING
    countdown = retry_delay(row.attempts)
    row.next_attempt_at = utcnow() + timedelta(seconds=countdown)
    outbox_id = row.id
    db.session.commit()
    log.warning("outbox email %s: %s; retrying in %s s", outbox_id, row.last_error, countdown)
    if task.request.is_eager or task.request.called_directly:
        return "retry later"  # no broker to hold the retry: the relay will pick the row up
    # If the broker is down the retry cannot be published; next_attempt_at lets the relay
    # take over then.
    raise task.retry(exc=exc, countdown=countdown)


@shared_task
def relay_outbox(older_than_seconds: int = RELAY_GRACE_SECONDS) -> int:
    """Enqueue rows still pending well after they were due (the broker was down at commit,
    or a retry could not be published)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.next_attempt_at <= cutoff)
        .order_by(OutboxEmail.id)
        .limit(RELAY_BATCH)
    ).all()
    db.session.rollback()
    return enqueue_send(ids)
