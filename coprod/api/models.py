"""What the API keeps of its own: the answers to POSTs sent with an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db


class IdempotencyKey(db.Model):
    """A POST that created something, under the key its caller sent: the first answer, given
    again to a retry with the same key and the same request (coprod.api.idempotency).

    Keys are their user's own (whatever token sent them) and expire after a day. Written in
    the transaction of the creation itself, so a key exists exactly when its creation does.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # The collaboration of the URL, if any: its keys are dropped when a citizen there is
    # erased, so that no answer keeps personal data the erasure removed.
    collaboration_id: Mapped[int | None] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    # The object the request created (its model's name and id), read through the policy on
    # each replay: an answer about what was since withdrawn, or is no longer the caller's to
    # read, is not given again. None where the answer named no object it created.
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the method, the path and the body: the same key for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
