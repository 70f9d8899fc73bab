"""Queue emails as outbox rows; hand them to the worker only after the transaction commits.

Operations call queue_email() and flush; the request commits once. An after_commit hook then
enqueues one send task per new row. If the broker is down the row stays pending and the
periodic relay (mail.tasks.relay_outbox) sends it later: nothing is lost, nothing goes out for
a transaction that rolled back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from email.utils import parseaddr

from flask import current_app, has_app_context, render_template
from flask_babel import force_locale
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from coprod.common import utcnow
from coprod.extensions import db
from coprod.i18n import force_timezone
from coprod.mail.addresses import has_line_break
from coprod.mail.models import OutboxEmail

log = logging.getLogger(__name__)
_PENDING_KEY = "coprod_outbox_pending"
SEND_TASK = "coprod.mail.tasks.send_outbox_email"
SUBJECT_MAX = 300  # OutboxEmail.subject's length


def message_id_for(key: str, created_at: datetime, domain: str) -> str:
    """Deterministic per row (every resend carries it), yet unique across installations.

    The creation instant is part of the hash: a fresh database reusing the key
    "invitation:1" must not produce a Message-ID that mail providers dedupe as seen before.
    """
    digest = hashlib.sha256(f"{key}\n{created_at.isoformat()}".encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def _sender_domain() -> str:
    """The domain of MAIL_FROM, the conventional right-hand side of a Message-ID."""
    address = parseaddr(current_app.config["MAIL_FROM"])[1]
    return address.rpartition("@")[2] or "coprod.invalid"


def _one_line(subject: str) -> str:
    """A header holds one line: a title typed with a line break must not break the email."""
    return " ".join(subject.split())[:SUBJECT_MAX]


def queue_email(
    *, key: str, to: str, template: str, subject: str, locale: str | None = None,
    timezone: str | None = None, recipient=None, about: str | None = None,
    headers: dict[str, str] | None = None,
    **context
) -> OutboxEmail:
    """Render `template`.txt/.html in the recipient's locale and time zone (`timezone`, else
    the `recipient`'s, else the default) and add an outbox row.

    Queuing the same key again returns the existing row: one thing, one email. An email about
    content passes its `recipient` (a User) and `about` ("reflection:12"): the worker sends it
    only if the recipient may still read that then (mail.tasks.still_readable).
    """
    if has_line_break(to or "") or "@" not in (to or ""):
        # Addresses are checked where they are written (coprod.mail.addresses); one that got
        # past that must not add header lines (Bcc:) to an email.
        raise ValueError(f"Refusing to queue an email to {to!r}")
    existing = db.session.scalar(select(OutboxEmail).where(OutboxEmail.key == key))
    if existing is not None:
        return existing
    context.setdefault("base_url", current_app.config["BASE_URL"])
    created_at = utcnow()
    timezone = timezone or getattr(recipient, "timezone", None)
    with force_timezone(timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]), \
            force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _one_line(str(subject))
        row = OutboxEmail(
            key=key,
            message_id=message_id_for(key, created_at, _sender_domain()),
            to_address=to,
            recipient_id=recipient.id if recipient is not None else None,
            about=about,
            headers=dict(headers) if headers else None,
            subject=subject,
            body_text=render_template(f"mail/{template}.txt", subject=subject, **context),
            body_html=render_template(f"mail/{template}.html", subject=subject, **context),
            created_at=created_at,
            next_attempt_at=created_at,
        )
    db.session.add(row)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, set()).add(row.id)
    return row


def enqueue_send(outbox_ids: Iterable[int]) -> int:
    """Publish one send task per row on this app's broker; returns how many were published.

    Stops at the first broker error: the relay will pick up the rest, and a web request
    should not wait for a dead broker once per email.
    """
    import coprod.mail.tasks  # noqa: F401  (registers the task with every Celery app)

    # This app's Celery, not the process default: tests and tools may hold several apps.
    task = current_app.extensions["celery"].tasks[SEND_TASK]
    published = 0
    for outbox_id in outbox_ids:
        try:
            task.apply_async(args=(outbox_id,))
        except Exception as exc:  # kombu raises several types; all mean "try later"
            log.warning("broker unavailable (%s); the relay will send outbox email %s and "
                        "any after it", exc, outbox_id)
            break
        published += 1
    return published


def _enqueue_after_commit(session: Session) -> None:
    """Publish the rows this transaction added, now that they are committed."""
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released: the enclosing transaction may still roll back
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    if not has_app_context():
        log.warning("outbox rows %s committed outside an app context; the relay will send "
                    "them", sorted(pending))
        return
    enqueue_send(sorted(pending))


def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    """When the outermost transaction ends without a commit, its rows are gone: send none.

    after_commit has already taken the ids of a committed transaction, so whatever is left
    here belonged to a rollback or a close(). A rolled-back SAVEPOINT keeps the ids: the
    worker finds no row for them and does nothing.
    """
    if transaction.parent is None:
        session.info.pop(_PENDING_KEY, None)


def install_hooks() -> None:
    """Called once from create_app(): bind the commit hooks to every Flask-SQLAlchemy session."""
    if not event.contains(Session, "after_commit", _enqueue_after_commit):
        event.listen(Session, "after_commit", _enqueue_after_commit)
    if not event.contains(Session, "after_transaction_end", _forget_uncommitted):
        event.listen(Session, "after_transaction_end", _forget_uncommitted)
