"""Conversations between members of one collaboration, across organizations.

Only participants read a conversation, and only while they are members of its collaboration:
leaving the collaboration ends access at once (the policy checks membership in SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.accounts.models import User
from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db
from coprod.search import fulltext_index

if TYPE_CHECKING:
    from coprod.citizens.models import CitizenReference

MESSAGE_MAX = 10_000


class Conversation(db.Model):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Kept with each new message so the conversation list sorts and counts without scanning.
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    participants: Mapped[list[Participant]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan")


class Participant(db.Model):
    __tablename__ = "conversation_participants"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    conversation: Mapped[Conversation] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()


class Message(db.Model):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    body: Mapped[str] = mapped_column(Text)
    # The language searched in (coprod/search): the author's, set when the row is inserted.
    language: Mapped[str] = mapped_column(String(8), server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    author: Mapped[User] = relationship()
    # The citizen this is about, if any (coprod/citizens); read-only here, written there.
    citizen_reference: Mapped[CitizenReference | None] = relationship(
        "CitizenReference", primaryjoin="CitizenReference.message_id == Message.id",
        uselist=False, viewonly=True)


# Full-text search (coprod/search): a GIN index on PostgreSQL, in each text's language;
# SQLite searches an FTS5 table kept in step by triggers (migration 0009).
fulltext_index("ix_messages_body_fts", Message)
Index("ix_messages_thread", Message.conversation_id, Message.created_at, Message.id)
