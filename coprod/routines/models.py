"""Routines, their prompts, members' leave and opt-outs, and in-app notifications.

A routine prompts its audience on its cadence (coprod/routines/schedule.py). Each (routine,
period, member) gets at most one prompt, guaranteed by a unique key, and each prompt at most
one email and one nudge (outbox keys "prompt:<id>", "nudge:<id>"). A reflection posted from a
prompt links to it; that is the response the response rates count.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.accounts.models import Role
from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db

NAME_MAX = 200
QUESTION_MAX = 500
MAX_QUESTIONS = 5


class RoutineAudienceRole(db.Model):
    __tablename__ = "routine_audience_roles"

    routine_id: Mapped[int] = mapped_column(
        ForeignKey("routines.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), primary_key=True)


class RoutineAudiencePartner(db.Model):
    __tablename__ = "routine_audience_partners"

    routine_id: Mapped[int] = mapped_column(
        ForeignKey("routines.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True)


class Routine(db.Model):
    """A knowledge-sharing routine: who is prompted, when, with which questions."""

    __tablename__ = "routines"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # One RRULE line (RFC 5545) without DTSTART; read from local midnight of `anchor_on`.
    rule: Mapped[str] = mapped_column(String(500))
    anchor_on: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    questions: Mapped[list] = mapped_column(JSON, default=list)
    # One nudge this many days into the period to those who have not answered; None: none.
    nudge_after_days: Mapped[int | None] = mapped_column(Integer)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    audience_roles: Mapped[list[RoutineAudienceRole]] = relationship(
        cascade="all, delete-orphan", order_by=RoutineAudienceRole.role)
    audience_partners: Mapped[list[RoutineAudiencePartner]] = relationship(
        cascade="all, delete-orphan", order_by=RoutineAudiencePartner.partner_id)

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def roles(self) -> set[Role]:
        return {a.role for a in self.audience_roles}

    @property
    def partner_ids(self) -> set[int]:
        return {a.partner_id for a in self.audience_partners}


class Prompt(db.Model):
    """One member asked to reflect in one period of a routine."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("routine_id", "period_start", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    routine_id: Mapped[int] = mapped_column(
        ForeignKey("routines.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The partner the member spoke for when prompted: response rates per organization.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="SET NULL"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    routine: Mapped[Routine] = relationship()


class PromptLeave(db.Model):
    """A member's own pause of prompts in a collaboration, until (and including) a date."""

    __tablename__ = "prompt_leaves"
    __table_args__ = (UniqueConstraint("user_id", "collaboration_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutineOptOut(db.Model):
    """A member unsubscribed from a routine's emails (one click from any prompt email)."""

    __tablename__ = "routine_opt_outs"

    routine_id: Mapped[int] = mapped_column(
        ForeignKey("routines.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NotificationKind(Choice):
    REPLY = "reply", _l("A reply to your reflection")
    MENTION = "mention", _l("You were mentioned")
    MESSAGE = "message", _l("A new message")
    ACTION = "action", _l("An action assigned to your organization")


class Notification(db.Model):
    """Something in a collaboration that concerns one member; read in the app, maybe mailed.

    `about` names the object ("reflection:12", "conversation:3"): the page it links to checks
    the policy when opened, and an email about it re-checks when it is sent.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "key"),
                      # a user's unread ones: the header's badge, "mark all read"
                      Index("ix_notifications_user_id_read_at", "user_id", "read_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(enum_column(NotificationKind,
                                                               "notification_kind"))
    # What caused it, unique per user: the same event never notifies twice.
    key: Mapped[str] = mapped_column(String(100))
    about: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


__all__ = ["Notification", "NotificationKind", "Prompt", "PromptLeave",
           "Routine", "RoutineAudiencePartner", "RoutineAudienceRole", "RoutineOptOut"]
