"""Reads of conversations and messages, always through the policy's SQL filter.

The conversation list costs the same number of queries however many conversations it shows:
the conversations (with their participants and names), their last messages and their unread
counts are three grouped reads, not one per conversation.

A thread shows its newest page of messages first, oldest to newest on the page; the cursor of
an earlier page is the keyset (created_at, id) of the oldest message shown, so a page costs the
same wherever it is and nothing is skipped or repeated while others write.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import aliased, selectinload
from werkzeug.exceptions import NotFound

from coprod import policy
from coprod.citizens import audit
from coprod.extensions import db
from coprod.messages.models import Conversation, Message, Participant
from coprod.policy import Actor
from coprod.reflections.queries import BadCursor, citizen_loads, decode_cursor, encode_cursor
from coprod.spaces.models import Collaboration, Membership, Partner

__all__ = ["BadCursor", "ConversationSummary", "MessagePage", "conversations_of",
           "readable_conversations", "summarize", "unread_total", "unread_counts",
           "messages_of", "readable_messages", "participant_seats", "conversation_or_404"]

PAGE_SIZE = 30
PAGE_SIZE_MAX = 100


@dataclass
class ConversationSummary:
    """One line of the conversation list: who takes part, what was said last, what is new."""

    conversation: Conversation
    last_message: Message | None
    unread_count: int

    @property
    def participants(self) -> list[Participant]:
        return self.conversation.participants


@dataclass
class MessagePage:
    items: list[Message]  # oldest to newest
    earlier_cursor: str | None = None


# -- conversations --------------------------------------------------------------------------

def readable_conversations(actor: Actor, collaboration: Collaboration) -> Select:
    """select(Conversation) of the actor's conversations here, latest activity first."""
    return (policy.scoped(actor, Conversation)
            .where(Conversation.collaboration_id == collaboration.id)
            .options(selectinload(Conversation.participants).selectinload(Participant.user))
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()))


def conversations_of(actor: Actor, collaboration: Collaboration, *, limit: int | None = None,
                     offset: int = 0) -> list[ConversationSummary]:
    """The actor's conversations with participants, last message and unread count."""
    stmt = readable_conversations(actor, collaboration).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return summarize(actor, list(db.session.scalars(stmt)))


def summarize(actor: Actor, conversations: list[Conversation]) -> list[ConversationSummary]:
    """Last messages and unread counts of loaded conversations, in two queries in all."""
    ids = [c.id for c in conversations]
    last = last_messages(actor, ids)
    unread = unread_counts(actor, ids)
    return [ConversationSummary(c, last.get(c.id), unread.get(c.id, 0)) for c in conversations]


def last_messages(actor: Actor, conversation_ids: list[int]) -> dict[int, Message]:
    """The newest readable message of each conversation, with its author, in one query."""
    if not conversation_ids:
        return {}
    rank = func.row_number().over(partition_by=Message.conversation_id,
                                  order_by=(Message.created_at.desc(), Message.id.desc()))
    ranked = (select(Message.id, rank.label("rank"))
              .where(Message.conversation_id.in_(conversation_ids),
                     policy.where(actor, Message, "read"))
              .subquery())
    newest = aliased(Message)
    stmt = (select(newest)
            .join(ranked, and_(ranked.c.id == newest.id, ranked.c.rank == 1))
            .options(selectinload(newest.author),
                     *citizen_loads(selectinload(newest.citizen_reference))))
    return {m.conversation_id: m for m in db.session.scalars(stmt)}


# The reader's own participant row, aliased: the policy's SQL has subqueries on the table.
_mine = aliased(Participant, name="my_participation")


def _unread_clause(actor: Actor):
    """Join condition: messages of others newer than the actor's reading mark."""
    return and_(
        _mine.conversation_id == Message.conversation_id,
        _mine.user_id == actor.user_id,
        Message.author_id != actor.user_id,
        or_(_mine.last_read_at.is_(None), Message.created_at > _mine.last_read_at),
        policy.where(actor, Message, "read"),
    )


def unread_counts(actor: Actor, conversation_ids: list[int]) -> dict[int, int]:
    """Unread messages per conversation, in one grouped query."""
    if not conversation_ids or actor.user_id is None:
        return {}
    rows = db.session.execute(
        select(Message.conversation_id, func.count(Message.id))
        .join(_mine, _unread_clause(actor))
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id))
    return dict(rows.all())


def _anything_new(actor: Actor, collaboration: Collaboration) -> bool:
    """Whether a conversation of the actor's here moved past their reading mark: one indexed
    look-up, without the policy (each message moves last_message_at, each read the mark), so
    the subnav of every page of a space asks the policy's count only when it may be > 0."""
    return db.session.scalar(select(exists().where(
        Participant.user_id == actor.user_id,
        Participant.conversation_id == Conversation.id,
        Conversation.collaboration_id == collaboration.id,
        or_(Participant.last_read_at.is_(None),
            Conversation.last_message_at > Participant.last_read_at)))) or False


def unread_total(actor: Actor, collaboration: Collaboration) -> int:
    """Unread messages in all the actor's conversations of a collaboration (the nav badge)."""
    if actor.user_id is None or not _anything_new(actor, collaboration):
        return 0
    return db.session.scalar(
        select(func.count(Message.id))
        .join(_mine, _unread_clause(actor))
        # not a join: the policy's clause has its own subquery on conversations
        .where(Message.conversation_id.in_(select(Conversation.id).where(
            Conversation.collaboration_id == collaboration.id)))) or 0


def conversation_or_404(actor: Actor, collaboration: Collaboration, conversation_id,
                        action: str = "read") -> Conversation:
    """A conversation of this very collaboration the actor takes part in (404 otherwise),
    with its participants and their names; 403 if readable but `action` is denied."""
    try:
        ident = int(conversation_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    conversation = db.session.scalar(
        policy.scoped(actor, Conversation)
        .where(Conversation.id == ident, Conversation.collaboration_id == collaboration.id)
        .options(selectinload(Conversation.participants).selectinload(Participant.user)))
    if conversation is None:
        raise NotFound()
    policy.require(actor, action, conversation)
    return conversation


def participant_seats(actor: Actor, conversation: Conversation) -> dict[int, Membership]:
    """The participants' memberships here (role, partner), by user id; one query.

    A participant who has left the collaboration has none, and is shown as a former member.
    """
    ids = [p.user_id for p in conversation.participants]
    stmt = (policy.scoped(actor, Membership)
            .where(Membership.collaboration_id == conversation.collaboration_id,
                   Membership.user_id.in_(ids))
            .options(selectinload(Membership.partner).selectinload(Partner.organization)))
    return {m.user_id: m for m in db.session.scalars(stmt).unique()}


# -- messages -------------------------------------------------------------------------------

def readable_messages(actor: Actor, conversation: Conversation) -> Select:
    """select(Message) of a conversation as the actor may read it, newest first."""
    return (policy.scoped(actor, Message)
            .where(Message.conversation_id == conversation.id)
            .options(selectinload(Message.author),
                     *citizen_loads(selectinload(Message.citizen_reference)))
            .order_by(Message.created_at.desc(), Message.id.desc()))


def messages_of(actor: Actor, conversation: Conversation, *, cursor: str | None = None,
                limit: int = PAGE_SIZE) -> MessagePage:
    """The newest page of messages (or the page before `cursor`), oldest to newest.

    Raises BadCursor for a cursor this function did not make.
    """
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    stmt = readable_messages(actor, conversation)
    if cursor:
        when, ident = decode_cursor(cursor)
        stmt = stmt.where(or_(Message.created_at < when,
                              and_(Message.created_at == when, Message.id < ident)))
    newest_first = list(db.session.scalars(stmt.limit(limit + 1)))
    more = len(newest_first) > limit
    audit.forget_reads("message", [m.id for m in newest_first[limit:]])  # tells of more only
    items = list(reversed(newest_first[:limit]))
    return MessagePage(items, encode_cursor(items[0]) if more and items else None)
