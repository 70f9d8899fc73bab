"""The outbox: every email is a row written in the same transaction as the change it tells of."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db

ABOUT_MAX = 60


class OutboxStatus(Choice):
    """Pending until delivered (sent) or given up on (failed, with last_error); cancelled when
    the recipient may no longer read what the email is about (last_error says why)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxEmail(db.Model):
    """One email to one recipient, kept after sending as the record of what went out."""

    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What this email is about, unique: queuing the same thing twice yields one email.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    # An email about content ("reflection:12") is sent only if its recipient may still read it
    # when the worker sends it; the row then names both.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    about: Mapped[str | None] = mapped_column(String(ABOUT_MAX))
    # Extra headers, e.g. List-Unsubscribe of a routine's prompt (RFC 2369, RFC 8058).
    headers: Mapped[dict | None] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the relay may pick the row up: at creation, then after each transient failure's
    # backoff, so the relay never doubles a retry that Celery already holds.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
