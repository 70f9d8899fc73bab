"""Reads of notifications: only those whose object the member may still read, in SQL.

A notification is the member's own (the policy's (Notification, "read")), but what it is
about may have become unreadable since: consent withdrawn, an audience narrowed, a reply
withdrawn. readable() keeps a notification only while its object is among what the policy
lets the member read now, so the page, its pagination and the unread badge agree, and a
hidden notification reveals nothing, not even that it exists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import Integer, Select, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from coprod import policy
from coprod.extensions import db
from coprod.i18n import lazy_gettext as _l
from coprod.messages.models import Message
from coprod.policy import Actor
from coprod.reflections.models import ImprovementAction, Reflection, Reply
from coprod.routines.models import Notification, NotificationKind
from coprod.spaces.models import Collaboration

# What a notification may be about: the prefix of Notification.about and its model.
ABOUT = {"reflection": Reflection, "reply": Reply, "message": Message,
         "action": ImprovementAction}

def _still_there(model) -> list:
    """Withdrawn content (or content under a withdrawn reflection) is no longer news."""
    if model is Reflection:
        return [Reflection.withdrawn_at.is_(None)]
    if model not in (Reply, ImprovementAction):
        return []
    parent = aliased(Reflection)
    under_open = exists().where(parent.id == model.reflection_id, parent.withdrawn_at.is_(None))
    if model is Reply:
        return [Reply.withdrawn_at.is_(None), under_open]
    return [under_open]


def _object_id(prefix: str):
    """SQL: the id that `about` names ("reply:12" -> 12) when it names a `prefix`, else NULL."""
    return case((Notification.about.like(f"{prefix}:%"),
                 cast(func.substr(Notification.about, len(prefix) + 2), Integer)))


def readable(actor: Actor):
    """SQL: the notification's object is one the actor may read now, and not withdrawn.

    Correlated to each notification by the object's primary key: the database looks up the
    objects of the notifications it counts or lists (a few unread ones for the badge), not
    every object the actor may read."""
    return or_(*(select(model.id).where(model.id == _object_id(prefix),
                                        policy.where(actor, model), *_still_there(model))
                 .exists() for prefix, model in ABOUT.items()))


def visible(actor: Actor) -> Select:
    """select(Notification): the actor's notifications they may still read, newest first."""
    return (policy.scoped(actor, Notification).where(readable(actor))
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def visible_one(actor: Actor, notification_id: int) -> Notification | None:
    return db.session.scalar(visible(actor).where(Notification.id == notification_id))


def unread_count(actor: Actor) -> int:
    """How many of the actor's visible notifications are unread: one query, which finds the
    unread ones by the index on (user_id, read_at) and checks only their objects."""
    return db.session.scalar(
        select(func.count(Notification.id)).where(policy.where(actor, Notification),
                                                  readable(actor),
                                                  Notification.read_at.is_(None))) or 0


# -- describing a notification: what happened, where, and the link --------------------------

@dataclass
class Described:
    """One notification as a reader sees it: a headline naming no content, and a link.

    The author is named only where the policy lets this reader see them (else their
    organization); an action names the organization it was assigned to, not its title.
    Texts are translated when used: an email renders them in its recipient's language.
    """

    notification: Notification
    collaboration: Collaboration
    who: object
    endpoint: str
    values: dict
    anchor: str = ""
    in_reply: bool = False
    partner: str | None = None

    @property
    def kind(self) -> NotificationKind:
        return self.notification.kind

    @property
    def headline(self) -> str:
        """Plain text, translated when shown (an email: in its recipient's language); a
        LazyString would pass into HTML unescaped."""
        kind = self.kind
        if kind == NotificationKind.REPLY:
            return _("%(who)s replied to your reflection", who=self.who)
        if kind == NotificationKind.MENTION and self.in_reply:
            return _("%(who)s mentioned you in a reply", who=self.who)
        if kind == NotificationKind.MENTION:
            return _("%(who)s mentioned you in a reflection", who=self.who)
        if kind == NotificationKind.MESSAGE:
            return _("%(who)s wrote you a message", who=self.who)
        return _("An improvement action was assigned to %(partner)s", partner=self.partner)

    @property
    def subject(self):
        title = self.collaboration.title
        kind = self.kind
        if kind == NotificationKind.REPLY:
            return _l("%(who)s replied to your reflection in %(title)s", who=self.who,
                      title=title)
        if kind == NotificationKind.MENTION:
            return _l("%(who)s mentioned you in %(title)s", who=self.who, title=title)
        if kind == NotificationKind.MESSAGE:
            return _l("%(who)s wrote to you in %(title)s", who=self.who, title=title)
        return _l("An improvement action for %(partner)s in %(title)s", partner=self.partner,
                  title=title)

    @property
    def path(self) -> str:
        """The link on a page of this site."""
        return url_for(self.endpoint, **self.values) + self.anchor

    @property
    def url(self) -> str:
        """The absolute link for an email (BASE_URL), in a request, a task or the CLI."""
        from coprod.accounts.operations import email_link

        return email_link(self.endpoint, **self.values) + self.anchor


def _author(reader: Actor, content):
    """The author's name if the policy lets the reader see it, else their organization."""
    if isinstance(content, Message) or policy.may(reader, "read_author", content):
        return content.author.display_name
    if content.partner is not None:
        return content.partner.name
    return _l("A member")


def _loads(model) -> list:
    if model is ImprovementAction:
        return [selectinload(ImprovementAction.owner_partner)]
    if model is Message:
        return [selectinload(Message.author)]
    return [selectinload(model.author), selectinload(model.partner)]


def _objects(notifications: list[Notification]) -> dict[str, object]:
    """The objects the notifications are about, one query per kind of object."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for n in notifications:
        prefix, _, ident = n.about.partition(":")
        if prefix in ABOUT and ident.isdigit():
            wanted[prefix].add(int(ident))
    found = {}
    for prefix, ids in wanted.items():
        model = ABOUT[prefix]
        for obj in db.session.scalars(select(model).where(model.id.in_(ids))
                                      .options(*_loads(model))):
            found[f"{prefix}:{obj.id}"] = obj
    return found


def _described(reader: Actor, n: Notification, collab: Collaboration, obj) -> Described:
    values = {"collaboration_id": collab.id}
    if isinstance(obj, Reflection):
        return Described(n, collab, _author(reader, obj), "reflections.show",
                         {**values, "reflection_id": obj.id})
    if isinstance(obj, Reply):
        return Described(n, collab, _author(reader, obj), "reflections.show",
                         {**values, "reflection_id": obj.reflection_id},
                         anchor=f"#reply-{obj.id}", in_reply=True)
    if isinstance(obj, Message):
        return Described(n, collab, _author(reader, obj), "messages.thread",
                         {**values, "conversation_id": obj.conversation_id},
                         anchor=f"#message-{obj.id}")
    return Described(n, collab, None, "reflections.show",
                     {**values, "reflection_id": obj.reflection_id}, anchor="#action",
                     partner=obj.owner_partner.name)


def describe(reader: Actor, notifications: list[Notification]) -> list[Described]:
    """Headlines and links of notifications, in their order; those whose object is gone are
    left out (the caller has filtered with readable())."""
    if not notifications:
        return []
    objects = _objects(notifications)
    collabs = {c.id: c for c in db.session.scalars(select(Collaboration).where(
        Collaboration.id.in_({n.collaboration_id for n in notifications})))}
    return [_described(reader, n, collabs[n.collaboration_id], objects[n.about])
            for n in notifications if n.about in objects]
