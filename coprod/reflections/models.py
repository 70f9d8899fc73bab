"""Reflections: what works and what must improve, said by partners to each other.

A reflection is posted by a member on behalf of their partner organization, with a visibility
that decides who may read it (the policy turns it into per-object answers and SQL filters).
Edits keep revisions; withdrawal keeps a tombstone. Replies share their reflection's
visibility; reactions are by partner organization; an "improve" reflection can become an
improvement action.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.accounts.models import User
from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db
from coprod.search import fulltext_index
from coprod.spaces.models import Partner

if TYPE_CHECKING:
    from coprod.citizens.models import CitizenReference

BODY_MAX = 20_000
TAG_MAX = 40


class Kind(Choice):
    WORKS = "works", _l("Works")
    IMPROVE = "improve", _l("Must improve")


class Perspective(Choice):
    LOCAL = "local", _l("For us locally")
    CITIZENS = "citizens", _l("For the citizens")
    COLLABORATION = "collaboration", _l("In the collaboration")


class Component(Choice):
    GOVERNANCE = "governance", _l("Effective governance")
    RESOURCES = "resources", _l("Complementary resources and capabilities")
    ASSETS = "assets", _l("Relational-specific assets")
    ROUTINES = "routines", _l("Knowledge-sharing routines")


class LearningLevel(Choice):
    INTER = "inter", _l("Between organizations")
    INTRA = "intra", _l("Inside my own organization")


class LearningMode(Choice):
    EXPLORATION = "exploration", _l("Co-exploration: searching for new ideas together")
    EXPLOITATION = "exploitation", _l("Co-exploitation: doing the existing service better")


class Visibility(Choice):
    COLLABORATION = "collaboration", _l("The whole collaboration")
    ORGANIZATION = "organization", _l("My organization only")
    COORDINATORS = "coordinators", _l("Coordinators only")
    PARTNERS = "partners", _l("Chosen partner organizations")


class Attribution(Choice):
    PERSON = "person", _l("My name")
    ORGANIZATION = "organization", _l("My organization only")


class ActionStatus(Choice):
    OPEN = "open", _l("Open")
    IN_PROGRESS = "in_progress", _l("In progress")
    DONE = "done", _l("Done")
    DROPPED = "dropped", _l("Dropped")


class Reflection(db.Model):
    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"),
                                           index=True)
    # The partner the author spoke for; None for members without one (citizens, some
    # coordinators).
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[Kind] = mapped_column(enum_column(Kind, "kind"))
    perspective: Mapped[Perspective] = mapped_column(enum_column(Perspective, "perspective"))
    component: Mapped[Component] = mapped_column(enum_column(Component, "component"))
    learning_level: Mapped[LearningLevel] = mapped_column(
        enum_column(LearningLevel, "learning_level"))
    mode: Mapped[LearningMode] = mapped_column(enum_column(LearningMode, "mode"))
    body: Mapped[str] = mapped_column(Text)
    # The language searched in (coprod/search): the author's, set when the row is inserted.
    language: Mapped[str] = mapped_column(String(8), server_default="")
    visibility: Mapped[Visibility] = mapped_column(enum_column(Visibility, "visibility"))
    attribution: Mapped[Attribution] = mapped_column(
        enum_column(Attribution, "attribution"), default=Attribution.PERSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    # The routine's prompt this answers, when posted from a prompt's link (coprod/routines).
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), index=True)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    partner: Mapped[Partner | None] = relationship()
    audience: Mapped[list[ReflectionAudience]] = relationship(
        cascade="all, delete-orphan", order_by="ReflectionAudience.partner_id")
    tags: Mapped[list[ReflectionTag]] = relationship(
        cascade="all, delete-orphan", order_by="ReflectionTag.name")
    revisions: Mapped[list[ReflectionRevision]] = relationship(
        cascade="all, delete-orphan", order_by="ReflectionRevision.id.desc()")
    action: Mapped[ImprovementAction | None] = relationship(
        back_populates="reflection", cascade="all, delete-orphan", uselist=False)
    # The citizen this is about, if any (coprod/citizens); read-only here, written there.
    citizen_reference: Mapped[CitizenReference | None] = relationship(
        "CitizenReference", primaryjoin="CitizenReference.reflection_id == Reflection.id",
        uselist=False, viewonly=True)

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def audience_partner_ids(self) -> set[int]:
        return {a.partner_id for a in self.audience}


class ReflectionAudience(db.Model):
    """A partner organization chosen to read a reflection of visibility 'partners'."""

    __tablename__ = "reflection_audience"

    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True)


class ReflectionTag(db.Model):
    __tablename__ = "reflection_tags"

    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(TAG_MAX), primary_key=True, index=True)


class ReflectionRevision(db.Model):
    """The text and classification of a reflection before an edit (or its withdrawal)."""

    __tablename__ = "reflection_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[Kind] = mapped_column(enum_column(Kind, "kind"))
    perspective: Mapped[Perspective] = mapped_column(enum_column(Perspective, "perspective"))
    component: Mapped[Component] = mapped_column(enum_column(Component, "component"))
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    edited_by: Mapped[User | None] = relationship()


class Reply(db.Model):
    """An answer under a reflection (threaded by parent); read by whoever reads the reflection."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("replies.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), server_default="")  # as a reflection's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reflection: Mapped[Reflection] = relationship()
    author: Mapped[User] = relationship()
    partner: Mapped[Partner | None] = relationship()
    # The citizen this is about, if any (coprod/citizens); read-only here, written there.
    citizen_reference: Mapped[CitizenReference | None] = relationship(
        "CitizenReference", primaryjoin="CitizenReference.reply_id == Reply.id",
        uselist=False, viewonly=True)


# Full-text search (coprod/search): GIN indexes on PostgreSQL, in each text's language;
# SQLite searches FTS5 tables kept in step by triggers (migration 0009).
fulltext_index("ix_reflections_body_fts", Reflection)
fulltext_index("ix_replies_body_fts", Reply)
# The feed newest first per collaboration (keyset on created_at, id), a thread in order.
Index("ix_reflections_feed", Reflection.collaboration_id, Reflection.created_at, Reflection.id)
# Beat's sweep of the reflections edited lately (coprod/digests/vectors.py).
Index("ix_reflections_edited_at", Reflection.edited_at)
Index("ix_replies_thread", Reply.reflection_id, Reply.created_at, Reply.id)


class Reaction(db.Model):
    """'We see this too': one per partner organization and reflection."""

    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("reflection_id", "partner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    partner: Mapped[Partner] = relationship()


class Mention(db.Model):
    """A member named in a reflection or reply; only members who can read it may be named."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("reflection_id", "reply_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class ImprovementAction(db.Model):
    """An 'improve' reflection turned into work one partner owns, with a due date."""

    __tablename__ = "improvement_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    reflection_id: Mapped[int] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), unique=True)
    owner_partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(
        enum_column(ActionStatus, "action_status"), default=ActionStatus.OPEN, index=True)
    # "You said, we did": shown with the reflection once the action is done.
    done_note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reflection: Mapped[Reflection] = relationship(back_populates="action")
    owner_partner: Mapped[Partner] = relationship()
    owner_user: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])

    def is_overdue(self, today: date) -> bool:
        return (self.due_on is not None and self.due_on < today
                and self.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS))


class FeedVisit(db.Model):
    """When a member last looked at a collaboration's feed: newer reflections are unread."""

    __tablename__ = "feed_visits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
