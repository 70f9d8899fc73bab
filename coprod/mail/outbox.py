"""Queue emails as outbox rows; hand them to the worker only after the transaction commits.

Operations call queue_email() and flush; the request commits once. An after_commit hook then
enqueues one send task per new row. If the broker is down the row stays pending and the
periodic relay (mail.tasks.relay_outbox) sends it later: nothing is lost, nothing goes out for
a transaction that rolled back.
"""

from __future__ import annotations

import hashlib
import logging

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from coprod.extensions import db
from coprod.mail.models import OutboxEmail

log = logging.getLogger(__name__)
_PENDING_KEY = "coprod_outbox_pending"


def message_id_for(key: str) -> str:
    """Deterministic Message-ID: the same outbox row always carries the same id."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@coprod>"


def queue_email(
    *, key: str, to: str, template: str, subject: str, locale: str | None = None, **context
) -> OutboxEmail:
    """Render `template`.txt/.html in the recipient's locale and add an outbox row.

    Queuing the same key again returns the existing row: one thing, one email.
    """
    existing = db.session.scalar(select(OutboxEmail).where(OutboxEmail.key == key))
    if existing is not None:
        return existing
    context.setdefault("base_url", current_app.config["BASE_URL"])
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = str(subject)
        row = OutboxEmail(
            key=key,
            message_id=message_id_for(key),
            to_address=to,
            subject=subject,
            body_text=render_template(f"mail/{template}.txt", subject=subject, **context),
            body_html=render_template(f"mail/{template}.html", subject=subject, **context),
        )
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, set()).add(row.id)
    return row


def _enqueue_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    from coprod.mail.tasks import send_outbox_email

    for outbox_id in sorted(pending):
        try:
            send_outbox_email.delay(outbox_id)
        except Exception:  # broker unreachable: the relay will pick the row up
            log.warning("could not enqueue outbox email %s; the relay will send it", outbox_id)


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def install_hooks() -> None:
    """Called once from create_app(): bind the commit hooks to every Flask-SQLAlchemy session."""
    if not event.contains(Session, "after_commit", _enqueue_after_commit):
        event.listen(Session, "after_commit", _enqueue_after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, prev: _forget_after_rollback(s))
