"""Writes to conversations: start one, post, mark read, add people, leave.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select

from coprod import policy
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.inputs import database_ids
from coprod.messages.models import MESSAGE_MAX, Conversation, Message, Participant
from coprod.notifications import operations as notifications
from coprod.policy import Actor
from coprod.spaces.models import Collaboration, Membership

SUBJECT_MAX = 200


# -- validation -----------------------------------------------------------------------------

def clean_message(body: str | None) -> str:
    """The text of a message: something, and not more than MESSAGE_MAX characters."""
    text = (body or "").strip()
    if not text:
        raise OperationError(_("Write a message first."), field="body")
    if len(text) > MESSAGE_MAX:
        raise OperationError(_("Keep the message under %(n)d characters (now %(len)d).",
                               n=MESSAGE_MAX, len=len(text)), field="body")
    return text


def clean_subject(subject: str | None) -> str:
    """An optional one-line subject; the list names the participants when it is empty."""
    text = " ".join((subject or "").split())
    if len(text) > SUBJECT_MAX:
        raise OperationError(_("Keep the subject under %(n)d characters.", n=SUBJECT_MAX),
                             field="subject")
    return text


def _user_ids(values: Iterable) -> set[int]:
    """Ids as posted (a form, a JSON list); anything that is not a number is refused."""
    try:
        return database_ids(values)
    except (TypeError, ValueError):
        raise OperationError(_("Choose members of this collaboration."),
                             field="participants") from None


def _members_of(collaboration_id: int, user_ids: set[int]) -> set[int]:
    """The ids given, all of them current members of the collaboration, or a refusal."""
    if not user_ids:
        return set()
    found = set(db.session.scalars(select(Membership.user_id).where(
        Membership.collaboration_id == collaboration_id, Membership.user_id.in_(user_ids))))
    if found != user_ids:
        raise OperationError(_("Choose members of this collaboration."), field="participants")
    return found


def _append(conversation: Conversation, author_id: int, body: str) -> Message:
    """Add a message and move the conversation's activity and the author's reading mark."""
    now = utcnow()
    message = Message(conversation_id=conversation.id, author_id=author_id, body=body,
                      created_at=now)
    db.session.add(message)
    conversation.last_message_at = now
    for participant in conversation.participants:
        if participant.user_id == author_id:
            participant.last_read_at = now
    return message


# -- operations -----------------------------------------------------------------------------

def _about_citizen(actor: Actor, collaboration_id: int, user_ids: set[int], citizen,
                   categories):
    """The checked (citizen, categories) of a message's reference, or None: every
    participant's partner organization must be allowed to know."""
    if citizen in (None, ""):
        if categories:
            raise OperationError(_("Choose the citizen this is about, or no categories."),
                                 field="citizen")
        return None
    from coprod.citizens.operations import check_reference

    readers = set(db.session.scalars(select(Membership.partner_id).where(
        Membership.collaboration_id == collaboration_id, Membership.user_id.in_(user_ids),
        Membership.partner_id.is_not(None))))
    return check_reference(actor, collaboration_id, citizen, categories, readers)


def _attach(message: Message, about) -> None:
    if about is not None:
        from coprod.citizens.operations import attach_reference

        attach_reference(message, *about)


def start_conversation(actor: Actor, collaboration: Collaboration,
                       participant_user_ids: Iterable, subject: str | None, body: str, *,
                       citizen=None, categories: Iterable = ()) -> Conversation:
    """A member writes to one or more other members of the collaboration, across partners."""
    policy.require(actor, "start_conversation", collaboration)
    others = _user_ids(participant_user_ids) - {actor.user_id}
    if not others:
        raise OperationError(_("Choose at least one other member."), field="participants")
    others = _members_of(collaboration.id, others)
    subject, body = clean_subject(subject), clean_message(body)
    about = _about_citizen(actor, collaboration.id, others | {actor.user_id}, citizen,
                           categories)
    conversation = Conversation(
        collaboration_id=collaboration.id, subject=subject, created_by_id=actor.user_id,
        participants=[Participant(user_id=uid) for uid in sorted(others | {actor.user_id})])
    db.session.add(conversation)
    db.session.flush()
    message = _append(conversation, actor.user_id, body)
    _attach(message, about)
    db.session.flush()
    notifications.message_posted(actor, conversation, message)
    return conversation


def post_message(actor: Actor, conversation: Conversation, body: str, *, citizen=None,
                 categories: Iterable = ()) -> Message:
    """A participant, still a member of an active collaboration, writes to the others."""
    policy.require(actor, "post", conversation)
    body = clean_message(body)
    about = _about_citizen(actor, conversation.collaboration_id,
                           {p.user_id for p in conversation.participants}, citizen, categories)
    message = _append(conversation, actor.user_id, body)
    db.session.flush()
    _attach(message, about)
    notifications.message_posted(actor, conversation, message)
    return message


def mark_read(actor: Actor, conversation: Conversation) -> None:
    """Everything in the conversation up to now counts as read by the actor."""
    policy.require(actor, "read", conversation)
    participant = _participant(actor, conversation)
    participant.last_read_at = max(utcnow(), conversation.last_message_at)
    notifications.conversation_read(actor, conversation)
    db.session.flush()


def add_participants(actor: Actor, conversation: Conversation, user_ids: Iterable
                     ) -> list[Participant]:
    """A participant brings other members in; they read the conversation from its start."""
    policy.require(actor, "post", conversation)
    present = {p.user_id for p in conversation.participants}
    wanted = _user_ids(user_ids) - present
    if not wanted:
        raise OperationError(_("Choose at least one member who is not in the conversation."),
                             field="participants")
    wanted = _members_of(conversation.collaboration_id, wanted)
    added = [Participant(user_id=uid) for uid in sorted(wanted)]
    conversation.participants.extend(added)
    db.session.flush()
    return added


def leave_conversation(actor: Actor, conversation: Conversation) -> None:
    """The actor stops taking part; a conversation nobody is left in is deleted.

    Leaving changes the conversation, so it needs what posting needs (a participant, still a
    member, in an active space).
    """
    policy.require(actor, "post", conversation)
    conversation.participants.remove(_participant(actor, conversation))
    if not conversation.participants:
        db.session.delete(conversation)
    db.session.flush()


def _participant(actor: Actor, conversation: Conversation) -> Participant:
    """The actor's own participant row (the policy has checked that it exists)."""
    return next(p for p in conversation.participants if p.user_id == actor.user_id)
