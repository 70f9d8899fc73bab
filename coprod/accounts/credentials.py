"""What proves who someone is besides a password: an identity at an OpenID Connect provider,
a TOTP authenticator and its one-time recovery codes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db


class UserIdentity(db.Model):
    """An account's identity at one provider: (issuer, subject) is who the provider says signed
    in, whatever their email address is by then. Linked on the first sign-in by verified email."""

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"), UniqueConstraint("user_id", "issuer"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    # The address the provider vouched for when the identity was linked.
    email: Mapped[str] = mapped_column(String(254))
    # The organization the person signs in for (the installation maps their email domain to it).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user = relationship("User")
    organization = relationship("Organization")


class TotpCredential(db.Model):
    """A confirmed authenticator app: the shared secret (RFC 6238) and the last time step a code
    was accepted for, so that a code seen once is never accepted again."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    last_used_step: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(db.Model):
    """A one-time code for when the authenticator is lost; only its SHA-256 is stored (the code
    holds 80 random bits, so the digest cannot be searched back)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @staticmethod
    def digest(code: str) -> str:
        return hashlib.sha256(code.encode()).hexdigest()
