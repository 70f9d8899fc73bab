"""People and how they prove who they are: users, invitations, personal access tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def use_password_hashing(parameters: Parameters) -> None:
    """Hash new passwords (and the unknown-account dummy) with these argon2 parameters.

    For the test suite only, which uses argon2's CHEAPEST profile: the same argon2id hashing
    and verification, without the 0.1 s per log-in that production spends on purpose. A hash
    carries its parameters, so verifying one made under other parameters still works.
    """
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(parameters)
    _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class EmailPreference(Choice):
    """How a member hears of notifications outside the app."""

    OFF = "off", _l("No emails")
    IMMEDIATELY = "immediately", _l("An email for each")
    DAILY = "daily", _l("A daily summary")


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(default=True)
    # An installation administrator: the admin area (/admin); set with `coprod users admin`.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Renewed with the password, so that a password-reset link works once. (Log-ins are
    # rows of user_sessions, coprod/accounts/sessions.py.)
    session_nonce: Mapped[str] = mapped_column(
        String(32), default=lambda: secrets.token_hex(16)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Notifications by email: off, one email each, or a daily summary at this local hour.
    notify_email: Mapped[EmailPreference] = mapped_column(
        enum_column(EmailPreference, "email_preference"), default="immediately",
        server_default="immediately")
    summary_hour: Mapped[int] = mapped_column(default=8, server_default="8")
    # How many of the user's notifications are unread, kept by coprod/notifications/operations
    # in the transaction that creates or reads them: the header's badge asks nothing while it
    # is 0. Never below the true count (some may be hidden now: the badge counts those it
    # shows with one query).
    unread_notifications: Mapped[int] = mapped_column(default=0, server_default="0")

    memberships: Mapped[list[Membership]] = relationship(  # noqa: F821
        back_populates="user", foreign_keys="Membership.user_id"
    )

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)
        self.session_nonce = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash or _DUMMY_HASH, password) and bool(
                self.password_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    # The log-in (a UserSession) this request runs in and its cookie secret: set by
    # sessions.open_session and sessions.user_for_login_id, never stored on the user.
    current_session = None
    session_secret = None
    # The user's seats, read with the log-in or the API token (policy.actors.seats_column):
    # {collaboration id: Seat}, or None when the user was loaded otherwise.
    loaded_seats = None

    def login_id(self) -> str:
        """What a log-in's session and remember-me cookies hold (auth.load_user reads it):
        the user's id and the secret of their server-side session, so that ending that
        session (log out, an administrator, a deactivation) ends the cookies with it."""
        return f"{self.id}:{self.session_secret or ''}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


def spend_dummy_hash(password: str) -> None:
    """Take as long as a real check when the account does not exist."""
    try:
        _hasher.verify(_DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        pass


class ApiToken(db.Model):
    """A personal access token for /api/v1; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    PREFIX = "cpd_"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Role(Choice):
    COORDINATOR = "coordinator", _l("Coordinator")
    PARTNER_STAFF = "partner_staff", _l("Partner staff")
    CITIZEN = "citizen", _l("Citizen")
    GUARDIAN = "guardian", _l("Guardian")
    OBSERVER = "observer", _l("Observer")


class Invitation(db.Model):
    """An email address invited into a collaboration with a role; accepted once, then spent."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    # The invited person's name, when the inviter gave it (a bulk upload): the sign-up
    # form starts with it.
    name: Mapped[str | None] = mapped_column(String(120))
    message: Mapped[str | None] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(24))
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    collaboration: Mapped[Collaboration] = relationship()  # noqa: F821
    partner: Mapped[Partner | None] = relationship()  # noqa: F821
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        return "pending"
