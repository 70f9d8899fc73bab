"""Writes to reflections, replies, reactions and improvement actions.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError with the field at fault.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import insert, select

from coprod import pagecache, policy, search
from coprod.accounts.models import Role, User
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.inputs import planned_day
from coprod.notifications import operations as notifications
from coprod.policy import Actor
from coprod.policy.consent import reads_content
from coprod.policy.visibility import partner_reads, reads_reflection
from coprod.reflections.models import (
    BODY_MAX,
    TAG_MAX,
    ActionStatus,
    Attribution,
    Component,
    FeedVisit,
    ImprovementAction,
    Kind,
    LearningLevel,
    LearningMode,
    Mention,
    Perspective,
    Reaction,
    Reflection,
    ReflectionAudience,
    ReflectionRevision,
    ReflectionTag,
    Reply,
    Visibility,
)
from coprod.routines.answers import checked_prompt
from coprod.spaces.models import Collaboration, Membership, Partner

MAX_TAGS = 10
TITLE_MAX = 200
_TAG_RE = re.compile(r"^[\w][\w\- ]*$", re.UNICODE)


# -- validation -----------------------------------------------------------------------------

def _choice(enum_cls, value, field: str):
    """An enum member from a submitted value, or a clear refusal naming the field."""
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise OperationError(_("Choose one of: %(allowed)s.", allowed=allowed),
                             field=field) from None


def clean_body(body: str | None, field: str = "body") -> str:
    text = (body or "").strip()
    if not text:
        raise OperationError(_("Write something first."), field=field)
    if len(text) > BODY_MAX:
        raise OperationError(_("Keep it under %(n)d characters (now %(len)d).", n=BODY_MAX,
                               len=len(text)), field=field)
    return text


def clean_tags(tags: Iterable[str] | str | None) -> list[str]:
    """Lower-case, trimmed, unique tags; a comma-separated string is accepted too."""
    if isinstance(tags, str):
        tags = tags.split(",")
    names: list[str] = []
    for raw in tags or []:
        name = " ".join(str(raw).strip().lstrip("#").lower().split())
        if not name or name in names:
            continue
        if len(name) > TAG_MAX or not _TAG_RE.match(name):
            raise OperationError(_("A tag is a word or a few, up to %(n)d letters, digits or "
                                   "dashes: “%(tag)s” is not.", n=TAG_MAX, tag=name[:60]),
                                 field="tags")
        names.append(name)
    if len(names) > MAX_TAGS:
        raise OperationError(_("Use at most %(n)d tags.", n=MAX_TAGS), field="tags")
    return names


def _partners_of(collaboration_id: int, partner_ids: Iterable[int]) -> set[int]:
    """The given ids, all of them partners of this collaboration, or a refusal."""
    wanted = {int(p) for p in partner_ids}
    if not wanted:
        return set()
    found = set(db.session.scalars(select(Partner.id).where(
        Partner.collaboration_id == collaboration_id, Partner.id.in_(wanted))))
    if found != wanted:
        raise OperationError(_("Choose partner organizations of this collaboration."),
                             field="audience")
    return found


def _check_audience(seat, visibility: Visibility, attribution: Attribution,
                    audience: set[int]) -> None:
    if visibility in (Visibility.ORGANIZATION, Visibility.PARTNERS) and seat.partner_id is None:
        raise OperationError(_("You do not speak for a partner organization here, so this "
                               "visibility is not available to you."), field="visibility")
    if attribution == Attribution.ORGANIZATION and seat.partner_id is None:
        raise OperationError(_("You do not speak for a partner organization here: sign with "
                               "your name."), field="attribution")
    if visibility == Visibility.PARTNERS and not (audience - {seat.partner_id}):
        raise OperationError(_("Choose at least one other partner organization."),
                             field="audience")
    if visibility != Visibility.PARTNERS and audience:
        raise OperationError(_("Partner organizations are chosen only with the visibility "
                               "“Chosen partner organizations”."), field="audience")


def _mention(reflection: Reflection, reply: Reply | None, user_ids: Iterable[int]) -> None:
    """Name members who can read the reflection; naming anyone else is refused."""
    ids = {int(u) for u in user_ids}
    if not ids:
        return
    members = db.session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                                 .where(Membership.collaboration_id
                                        == reflection.collaboration_id, User.id.in_(ids))).all()
    if len(members) != len(ids):
        raise OperationError(_("You can only mention members of this collaboration."),
                             field="mentions")
    named = []
    for user in members:
        reader = policy.actor_for(user)
        if not (reads_reflection(reader, reflection) and (
                reply is None or reads_content(reader, reply.citizen_reference))):
            raise OperationError(_("%(name)s cannot read this with the visibility chosen.",
                                   name=user.display_name), field="mentions")
        mention = Mention(reflection_id=reflection.id, reply_id=reply.id if reply else None,
                          user_id=user.id)
        db.session.add(mention)
        named.append((mention, user))
    db.session.flush()
    for mention, user in named:
        notifications.mentioned(mention, user, reflection, reply)


def reader_partners(collaboration_id: int, visibility: Visibility, author_partner_id,
                    audience: Iterable[int]) -> set[int]:
    """The partner organizations whose staff would read a reflection of this visibility."""
    if visibility == Visibility.COLLABORATION:
        found = set(db.session.scalars(select(Partner.id).where(
            Partner.collaboration_id == collaboration_id)))
    elif visibility == Visibility.COORDINATORS:
        found = set(db.session.scalars(select(Membership.partner_id).where(
            Membership.collaboration_id == collaboration_id,
            Membership.role == Role.COORDINATOR, Membership.partner_id.is_not(None))))
    else:
        found = set(audience) if visibility == Visibility.PARTNERS else set()
    return (found | {author_partner_id}) - {None}


def _about_citizen(actor: Actor, collaboration_id: int, citizen, categories,
                   readers: Callable[[], set[int]]):
    """The checked (citizen, categories) of a reference, or None when there is none.
    `readers()` gives the partners who would read it: asked only when there is a citizen
    (most content is about none, and working them out is a query)."""
    if citizen in (None, ""):
        if categories:
            raise OperationError(_("Choose the citizen this is about, or no categories."),
                                 field="citizen")
        return None
    from coprod.citizens.operations import check_reference

    return check_reference(actor, collaboration_id, citizen, categories, readers())


def _attach(content, about) -> None:
    if about is not None:
        from coprod.citizens.operations import attach_reference

        attach_reference(content, *about)


# -- reflections ----------------------------------------------------------------------------

def post_reflection(actor: Actor, collaboration: Collaboration, **fields) -> Reflection:
    """A member writes down what works or what must improve, for the audience they choose
    (the fields: _checked_reflection()'s), as the session's object (the API answers with it,
    and the idempotency of its posts sees it flushed)."""
    posted = _checked_reflection(actor, collaboration, **fields)
    reflection = Reflection(
        **posted.values, tags=[ReflectionTag(name=t) for t in posted.tags],
        audience=[ReflectionAudience(partner_id=p) for p in posted.audience])
    db.session.add(reflection)
    db.session.flush()
    posted.finish(reflection)
    return reflection


def post_reflection_row(actor: Actor, collaboration: Collaboration, **fields) -> int:
    """post_reflection() for a caller that needs only the new reflection's id (the web form:
    the next page shows it): its rows inserted on the connection, no object made of them.
    The ORM's unit of work for the INSERT was a fifth of a post. A citizen reference or
    mentions need the object: then it is loaded (one statement), and given them."""
    posted = _checked_reflection(actor, collaboration, **fields)
    values, statement = posted.values, _insert_reflection()
    language = search.language_for(db.session(), actor.user_id)
    connection = db.session.connection()
    if not isinstance(language, str):  # read by the INSERT from the author's row
        reflection_id = connection.execute(statement.values(language=language),
                                           values).scalar_one()
    elif posted.last_write:  # most posts: the INSERT changes the page token too
        return pagecache.write_last(connection, statement, {**values, "language": language})[0]
    else:
        reflection_id = connection.execute(statement, {**values, "language": language}
                                           ).scalar_one()
    if posted.tags:
        connection.execute(insert(ReflectionTag.__table__), [
            {"reflection_id": reflection_id, "name": t} for t in posted.tags])
    if posted.audience:
        connection.execute(insert(ReflectionAudience.__table__), [
            {"reflection_id": reflection_id, "partner_id": p} for p in posted.audience])
    if posted.about is not None or posted.mentions:
        posted.finish(db.session.get(Reflection, reflection_id))
    return reflection_id


@functools.cache
def _insert_reflection():
    """SQL: a reflection's row, its id returned; built once (a table's INSERT, every column
    bound: the same statement for every post)."""
    table = Reflection.__table__
    return insert(table).returning(table.c.id)


@dataclass
class _Posted:
    """A reflection's checked values, before it is written; finish() gives the written one
    its citizen reference and mentions."""

    values: dict
    tags: list[str]
    audience: list[int]
    about: tuple | None
    mentions: list

    @property
    def last_write(self) -> bool:
        """Is the reflection's row all there is to write (no tags, audience, citizen
        reference or mentions)? Then its INSERT may carry the page token's change."""
        return not (self.tags or self.audience or self.about is not None or self.mentions)

    def finish(self, reflection: Reflection) -> None:
        _attach(reflection, self.about)
        _mention(reflection, None, self.mentions)
        db.session.flush()  # its vector for digest themes is made by beat's sweep


def _checked_reflection(actor: Actor, collaboration: Collaboration, *, kind, perspective,
                        component, learning_level, mode, body: str,
                        visibility=Visibility.COLLABORATION, attribution=Attribution.PERSON,
                        tags=(), audience: Iterable[int] = (), mentions: Iterable[int] = (),
                        citizen=None, categories: Iterable[int] = (), prompt=None) -> _Posted:
    """What a reflection posted with these fields holds, checked, or the refusal.

    A reflection about a citizen names the citizen and the categories of information it
    holds; it is refused (field "audience") when a partner that would read it may not know.
    One posted from a routine's prompt (a Prompt or its id) answers it: the prompt must be
    the author's own, of this collaboration, with its period open (else field "prompt").
    """
    policy.require(actor, "post_reflection", collaboration)
    answers = checked_prompt(actor, collaboration.id, prompt)
    seat = actor.seat(collaboration.id)
    visibility = _choice(Visibility, visibility, "visibility")
    attribution = _choice(Attribution, attribution, "attribution")
    audience_ids = _partners_of(collaboration.id, audience)
    _check_audience(seat, visibility, attribution, audience_ids)
    about = _about_citizen(actor, collaboration.id, citizen, categories, lambda: reader_partners(
        collaboration.id, visibility, seat.partner_id, audience_ids))
    values = dict(
        collaboration_id=collaboration.id, author_id=actor.user_id, partner_id=seat.partner_id,
        kind=_choice(Kind, kind, "kind"),
        perspective=_choice(Perspective, perspective, "perspective"),
        component=_choice(Component, component, "component"),
        learning_level=_choice(LearningLevel, learning_level, "learning_level"),
        mode=_choice(LearningMode, mode, "mode"), body=clean_body(body),
        visibility=visibility, attribution=attribution, created_at=utcnow(),
        prompt_id=answers.id if answers is not None else None)
    return _Posted(values, clean_tags(tags), sorted(audience_ids), about, list(mentions or ()))


def edit_reflection(actor: Actor, reflection: Reflection, *, kind, perspective, component,
                    learning_level, mode, body: str, visibility, attribution, tags=(),
                    audience: Iterable[int] = ()) -> Reflection:
    """Change a reflection; what it said before is kept as a revision."""
    policy.require(actor, "update", reflection)
    seat = actor.seat(reflection.collaboration_id)
    visibility = _choice(Visibility, visibility, "visibility")
    attribution = _choice(Attribution, attribution, "attribution")
    audience_ids = _partners_of(reflection.collaboration_id, audience)
    _check_audience(seat, visibility, attribution, audience_ids)
    reference = reflection.citizen_reference
    if reference is not None:  # the new audience must be allowed to know, too
        _about_citizen(actor, reflection.collaboration_id, reference.citizen_id,
                       reference.category_ids, lambda: reader_partners(
                           reflection.collaboration_id, visibility, reflection.partner_id,
                           audience_ids))
    new = dict(kind=_choice(Kind, kind, "kind"),
               perspective=_choice(Perspective, perspective, "perspective"),
               component=_choice(Component, component, "component"),
               learning_level=_choice(LearningLevel, learning_level, "learning_level"),
               mode=_choice(LearningMode, mode, "mode"), body=clean_body(body),
               visibility=visibility, attribution=attribution)
    if reflection.action is not None and new["kind"] != Kind.IMPROVE:
        raise OperationError(_("This reflection is an improvement action; it stays an "
                               "improvement."), field="kind")
    db.session.add(ReflectionRevision(
        reflection_id=reflection.id, body=reflection.body, kind=reflection.kind,
        perspective=reflection.perspective, component=reflection.component,
        edited_by_id=actor.user_id, edited_at=utcnow()))
    text_changed = new["body"] != reflection.body
    for name, value in new.items():
        setattr(reflection, name, value)
    reflection.tags = [ReflectionTag(name=t) for t in clean_tags(tags)]
    reflection.audience = [ReflectionAudience(partner_id=p) for p in sorted(audience_ids)]
    reflection.edited_at = utcnow()
    db.session.flush()
    if text_changed:  # the old text's vector goes with it; beat's sweep embeds the new one
        from coprod.digests.vectors import forget

        forget([reflection.id])
    return reflection


def withdraw_reflection(actor: Actor, reflection: Reflection) -> Reflection:
    """Take a reflection back: its text and earlier versions are erased, a tombstone stays
    (and what was derived from the text, its vector for digest themes, goes)."""
    from coprod.digests.vectors import forget

    policy.require(actor, "withdraw", reflection)
    reflection.withdrawn_at = utcnow()
    reflection.withdrawn_by_id = actor.user_id
    reflection.body = ""
    for revision in reflection.revisions:
        revision.body = ""
    reflection.tags = []
    db.session.flush()
    forget([reflection.id])
    return reflection


# -- replies, reactions ---------------------------------------------------------------------

def reply(actor: Actor, reflection: Reflection, body: str, *, parent_id: int | None = None,
          mentions: Iterable[int] = (), citizen=None, categories: Iterable[int] = ()) -> Reply:
    """Answer a reflection (or a reply under it); the answer has the reflection's readers,
    narrowed by its own citizen reference if it has one."""
    if reflection.is_withdrawn and policy.may(actor, "read", reflection):
        raise OperationError(_("This reflection was withdrawn: it takes no more replies."),
                             status=409)
    policy.require(actor, "reply", reflection)
    if parent_id is not None:
        parent = db.session.get(Reply, parent_id)
        if parent is None or parent.reflection_id != reflection.id:
            raise OperationError(_("Answer a reply under this reflection."), field="parent_id",
                                 status=404)
    seat = actor.seat(reflection.collaboration_id)
    about = _about_citizen(actor, reflection.collaboration_id, citizen, categories,
                           lambda: reader_partners(
                               reflection.collaboration_id, reflection.visibility,
                               reflection.partner_id, reflection.audience_partner_ids))
    answer = Reply(reflection_id=reflection.id, parent_id=parent_id, author_id=actor.user_id,
                   partner_id=seat.partner_id, body=clean_body(body))
    db.session.add(answer)
    db.session.flush()
    _attach(answer, about)
    _mention(reflection, answer, mentions)
    db.session.flush()
    notifications.replied(actor, reflection, answer, mentions)
    return answer


def edit_reply(actor: Actor, answer: Reply, body: str) -> Reply:
    policy.require(actor, "update", answer)
    if answer.withdrawn_at is not None:
        raise OperationError(_("This reply was withdrawn."), status=409)
    answer.body = clean_body(body)
    answer.edited_at = utcnow()
    db.session.flush()
    return answer


def withdraw_reply(actor: Actor, answer: Reply) -> Reply:
    policy.require(actor, "withdraw", answer)
    answer.withdrawn_at = utcnow()
    answer.body = ""
    db.session.flush()
    return answer


def react(actor: Actor, reflection: Reflection, on: bool = True) -> Reaction | None:
    """Say (or take back) "we see this too" for the partner organization the actor speaks for."""
    policy.require(actor, "react", reflection)
    partner_id = actor.seat(reflection.collaboration_id).partner_id
    existing = db.session.scalar(select(Reaction).where(
        Reaction.reflection_id == reflection.id, Reaction.partner_id == partner_id))
    if on and existing is None:
        existing = Reaction(reflection_id=reflection.id, partner_id=partner_id,
                            user_id=actor.user_id)
        db.session.add(existing)
    elif not on and existing is not None:
        db.session.delete(existing)
        existing = None
    db.session.flush()
    return existing


# -- improvement actions --------------------------------------------------------------------

def _owner(collaboration_id: int, owner_partner_id: int, owner_user_id: int | None):
    """The owning partner (of this collaboration) and an optional owner speaking for it."""
    partner = db.session.get(Partner, int(owner_partner_id)) if owner_partner_id else None
    if partner is None or partner.collaboration_id != collaboration_id:
        raise OperationError(_("Choose a partner organization of this collaboration."),
                             field="owner_partner_id")
    if owner_user_id:
        seat = db.session.scalar(select(Membership).where(
            Membership.collaboration_id == collaboration_id,
            Membership.user_id == int(owner_user_id)))
        if seat is None or seat.partner_id != partner.id:
            raise OperationError(_("The owner must be a member speaking for %(partner)s.",
                                   partner=partner.name), field="owner_user_id")
    return partner, (int(owner_user_id) if owner_user_id else None)


def _clean_title(title: str | None) -> str:
    text = " ".join((title or "").split())
    if not text:
        raise OperationError(_("Say in a line what will be done."), field="title")
    if len(text) > TITLE_MAX:
        raise OperationError(_("Keep the title under %(n)d characters.", n=TITLE_MAX),
                             field="title")
    return text


def _refuse_unless_open_improvement(actor: Actor, reflection: Reflection) -> None:
    """Tell a reader why this reflection cannot become an action (the policy only says no)."""
    if not policy.may(actor, "read", reflection):
        return
    if reflection.is_withdrawn:
        raise OperationError(_("This reflection was withdrawn."), status=409)
    if reflection.kind != Kind.IMPROVE:
        raise OperationError(_("Only a reflection on what must improve becomes an action."),
                             status=409)
    if reflection.action is not None:
        raise OperationError(_("This reflection is already an improvement action."),
                             status=409)


def create_action(actor: Actor, reflection: Reflection, *, title: str, owner_partner_id: int,
                  owner_user_id: int | None = None, due_on: date | None = None
                  ) -> ImprovementAction:
    """Turn an 'improve' reflection into an action one partner owns."""
    _refuse_unless_open_improvement(actor, reflection)
    policy.require(actor, "create_action", reflection)
    partner, owner_user_id = _owner(reflection.collaboration_id, owner_partner_id,
                                    owner_user_id)
    if not partner_reads(reflection, partner.id):
        raise OperationError(_("%(partner)s cannot read this reflection, so it cannot own the "
                               "action. Choose a partner that can.", partner=partner.name),
                             field="owner_partner_id")
    if due_on is not None:
        planned_day(due_on, utcnow().date(), "due_on")
    action = ImprovementAction(reflection=reflection, owner_partner_id=partner.id,
                               owner_user_id=owner_user_id, title=_clean_title(title),
                               due_on=due_on, created_by_id=actor.user_id)
    db.session.add(action)
    db.session.flush()
    notifications.action_assigned(actor, action)
    return action


def update_action(actor: Actor, action: ImprovementAction, *, status, title: str | None = None,
                  due_on: date | None = None, owner_user_id: int | None = None,
                  done_note: str | None = None) -> ImprovementAction:
    """Move an action along; done needs a "you said, we did" note for the readers."""
    policy.require(actor, "update", action)
    status = _choice(ActionStatus, status, "status")
    _partner, owner_user_id = _owner(action.reflection.collaboration_id,
                                     action.owner_partner_id, owner_user_id)
    note = (done_note or "").strip() or None
    if status == ActionStatus.DONE and not note:
        raise OperationError(_("Say what was done: the people who raised it will read it."),
                             field="done_note")
    if note and len(note) > BODY_MAX:
        raise OperationError(_("Keep it under %(n)d characters.", n=BODY_MAX),
                             field="done_note")
    if due_on is not None and due_on != action.due_on:  # an old due date may stay as it is
        planned_day(due_on, utcnow().date(), "due_on")
    if title is not None:
        action.title = _clean_title(title)
    action.status, action.due_on, action.owner_user_id = status, due_on, owner_user_id
    action.done_note = note
    action.done_at = utcnow() if status == ActionStatus.DONE else None
    action.updated_at = utcnow()
    db.session.flush()
    return action


def mark_feed_seen(actor: Actor, collaboration: Collaboration) -> None:
    """Remember when the member looked at the feed; newer reflections show as unread."""
    policy.require(actor, "read", collaboration)
    visit = db.session.get(FeedVisit, (actor.user_id, collaboration.id))
    if visit is None:
        db.session.add(FeedVisit(user_id=actor.user_id, collaboration_id=collaboration.id,
                                 seen_at=utcnow()))
    else:
        visit.seen_at = utcnow()
    db.session.flush()


def is_coordinator(actor: Actor, collaboration_id: int) -> bool:
    seat = actor.seat(collaboration_id)
    return seat is not None and seat.role == Role.COORDINATOR
