"""Writes to notifications: create one per cause and member, mark read, email preferences.

The four causes are called by the operations that cause them, after their flush: a reply
(reflections.operations.reply), a mention (reflections.operations._mention), a message
(messages.operations) and an action assigned to an organization
(reflections.operations.create_action). Each notifies only members who may read the object,
never the actor. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import String, cast, literal, select, update

from coprod import policy
from coprod.accounts.models import EmailPreference, Role, User
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.notifications import queries
from coprod.policy import Actor
from coprod.routines.models import Notification, NotificationKind
from coprod.spaces.models import Membership

HOURS = range(24)


def notify(user_id: int, collaboration_id: int, kind, key: str, about: str
           ) -> Notification | None:
    """Add a notification unless this user already has one for `key`; email it at once if
    that is the user's preference. Returns the new notification, or None."""
    existing = db.session.scalar(select(Notification.id).where(
        Notification.user_id == user_id, Notification.key == key))
    if existing is not None:
        return None
    notification = Notification(user_id=user_id, collaboration_id=collaboration_id,
                                kind=NotificationKind(kind), key=key, about=about)
    db.session.add(notification)
    db.session.flush()
    _count_unread(user_id, 1)
    user = db.session.get(User, user_id)
    if user.is_active and user.notify_email == EmailPreference.IMMEDIATELY:
        email_now(notification, user)
    return notification


def email_now(notification: Notification, user: User) -> None:
    """One email with what happened and a link; never what was said.

    The row names its recipient and object, so the worker asks the policy again before
    sending (mail.tasks.still_readable): a consent withdrawn in between cancels it.
    """
    from coprod.accounts.operations import email_link
    from coprod.mail.outbox import queue_email
    from coprod.mail.unsubscribe import list_unsubscribe_headers
    from coprod.notifications.links import unsubscribe_link

    described = queries.describe(policy.actor_for(user), [notification])
    if not described:
        return
    item = described[0]
    unsubscribe = unsubscribe_link(user.id)
    queue_email(key=f"notification:{notification.id}", to=user.email, template="notification",
                subject=item.subject, locale=user.locale, timezone=user.timezone, recipient=user,
                about=notification.about, item=item, link=item.url,
                settings_link=email_link("accounts.profile") + "#notifications-heading",
                headers=list_unsubscribe_headers(unsubscribe), unsubscribe_link=unsubscribe)
    notification.emailed_at = utcnow()
    db.session.flush()


def _notify_reader(user: User, collaboration_id: int, kind: NotificationKind, key: str,
                   obj) -> None:
    """Notify `user` about `obj` if the policy lets them read it."""
    if policy.may(policy.actor_for(user), "read", obj):
        prefix = {"reflections": "reflection", "replies": "reply", "messages": "message",
                  "improvement_actions": "action"}[obj.__tablename__]
        notify(user.id, collaboration_id, kind, key, f"{prefix}:{obj.id}")


# -- the four causes ------------------------------------------------------------------------

def mentioned(mention, user: User, reflection, reply=None) -> None:
    """A member was named in a reflection or a reply they may read (not by themselves)."""
    content = reply or reflection
    if user.id == content.author_id:
        return
    _notify_reader(user, reflection.collaboration_id, NotificationKind.MENTION,
                   f"mention:{mention.id}", content)


def replied(actor: Actor, reflection, answer, mentioned_ids: Iterable[int] = ()) -> None:
    """The reflection's author hears of a reply, unless they wrote it or were mentioned in it
    (the mention already told them: one event, one notification)."""
    author_id = reflection.author_id
    if author_id == actor.user_id or author_id in {int(u) for u in mentioned_ids}:
        return
    author = db.session.get(User, author_id)
    _notify_reader(author, reflection.collaboration_id, NotificationKind.REPLY,
                   f"reply:{answer.id}", answer)


def message_posted(actor: Actor, conversation, message) -> None:
    """Every other participant who may read the message."""
    for participant in conversation.participants:
        if participant.user_id != actor.user_id:
            _notify_reader(participant.user, conversation.collaboration_id,
                           NotificationKind.MESSAGE, f"message:{message.id}", message)


def action_assigned(actor: Actor, action) -> None:
    """The owning partner's staff members, except whoever created the action."""
    collaboration_id = action.reflection.collaboration_id
    staff = db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id).where(
            Membership.collaboration_id == collaboration_id,
            Membership.role == Role.PARTNER_STAFF,
            Membership.partner_id == action.owner_partner_id,
            User.id != actor.user_id).order_by(User.id)).all()
    for user in staff:
        _notify_reader(user, collaboration_id, NotificationKind.ACTION, f"action:{action.id}",
                       action)


def _count_unread(user_id: int, change: int) -> None:
    """Keep users.unread_notifications equal to the number of the user's unread rows: every
    write that makes a notification unread or read calls this, in its transaction (one
    UPDATE, atomic under concurrent writers, as `change` is what the write did)."""
    if change:
        db.session.execute(update(User).where(User.id == user_id).values(
            unread_notifications=User.unread_notifications + change))


# -- the member's own -----------------------------------------------------------------------

def mark_read(actor: Actor, notification: Notification) -> Notification:
    policy.require(actor, "update", notification)
    if notification.read_at is None:
        notification.read_at = utcnow()
        _count_unread(notification.user_id, -1)
    db.session.flush()
    return notification


def mark_all_read(actor: Actor, ids: Iterable[int] | None = None) -> int:
    """Mark the actor's visible notifications read (those of `ids` only, if given); returns
    how many were unread."""
    stmt = update(Notification).where(
        policy.where(actor, Notification, "update"), policy.where(actor, Notification),
        queries.readable(actor), Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_({int(i) for i in ids}))
    done = db.session.execute(stmt.values(read_at=utcnow())
                              .execution_options(synchronize_session=False)).rowcount
    _count_unread(actor.user_id, -done)
    db.session.expire_all()
    return done


def conversation_read(actor: Actor, conversation) -> None:
    """Reading a conversation reads the notifications of its messages too."""
    from coprod.messages.models import Message

    messages = select(literal("message:", String) + cast(Message.id, String)).where(
        Message.conversation_id == conversation.id)
    done = db.session.execute(
        update(Notification).where(Notification.user_id == actor.user_id,
                                   Notification.kind == NotificationKind.MESSAGE,
                                   Notification.read_at.is_(None),
                                   Notification.about.in_(messages))
        .values(read_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    _count_unread(actor.user_id, -done)


def update_preferences(actor: Actor, notify_email, summary_hour=None) -> User:
    """The actor's own choice: no emails, one for each notification, or a daily summary at
    a local hour (0 to 23, in the user's time zone)."""
    user = db.session.get(User, actor.user_id)
    if user is None:
        raise OperationError(_("Log in first."), status=401)
    try:
        preference = EmailPreference(notify_email)
    except ValueError:
        allowed = ", ".join(m.value for m in EmailPreference)
        raise OperationError(_("Choose one of: %(allowed)s.", allowed=allowed),
                             field="notify_email") from None
    if summary_hour is not None:
        try:
            hour = int(summary_hour)
        except (TypeError, ValueError):
            hour = -1
        if hour not in HOURS:
            raise OperationError(_("Choose an hour from 0 to 23."), field="summary_hour")
        user.summary_hour = hour
    user.notify_email = preference
    db.session.flush()
    return user
