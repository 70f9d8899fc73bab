"""Who may read a reflection (and what hangs off it) and a conversation.

Each grant answers for one object in Python and as an SQL clause, from the same reading of
the visibility: the whole collaboration; the author's organization only; coordinators only;
or chosen partner organizations (the author's own included). Authors always read their own,
while they are members. Nobody outside the collaboration reads anything.

On top of the visibility, a reflection that references a citizen reaches a member only where
their partner organization may know of the citizen (coprod/policy/consent.py); authors and
coordinators are not exempt.
"""

from __future__ import annotations

import functools

from sqlalchemy import and_, bindparam, exists, false, literal, or_, select, true
from sqlalchemy.orm import aliased

from coprod.accounts.models import Role
from coprod.policy.consent import content_clause, reads_content
from coprod.policy.grants import Grant, with_values


def _models():
    from coprod.reflections.models import Reflection, ReflectionAudience
    from coprod.spaces.models import Membership

    return Reflection, ReflectionAudience, Membership


def reads_reflection(actor, reflection) -> bool:
    """The per-object reading of a reflection's visibility and of its citizen reference."""
    return (_visible(actor, reflection)
            and reads_content(actor, reflection.citizen_reference))


def _visible(actor, reflection) -> bool:
    from coprod.reflections.models import Visibility

    seat = actor.seat(reflection.collaboration_id)
    if seat is None:
        return False
    if reflection.author_id == actor.user_id:
        return True
    visibility = reflection.visibility
    if visibility == Visibility.COLLABORATION:
        return True
    if visibility == Visibility.COORDINATORS:
        return seat.role == Role.COORDINATOR
    if seat.partner_id is None:
        return False
    if visibility == Visibility.ORGANIZATION:
        return seat.partner_id == reflection.partner_id
    if visibility == Visibility.PARTNERS:
        return (seat.partner_id == reflection.partner_id
                or seat.partner_id in reflection.audience_partner_ids)
    return False


def partner_reads(reflection, partner_id: int) -> bool:
    """Whether the staff of a partner organization (as such) may read the reflection."""
    from coprod.policy.consent import partner_knows
    from coprod.reflections.models import Visibility

    reference = reflection.citizen_reference
    if reference is not None and not partner_knows(reference, partner_id):
        return False
    if reflection.visibility == Visibility.COLLABORATION:
        return True
    if reflection.visibility == Visibility.PARTNERS:
        return partner_id == reflection.partner_id or partner_id in reflection.audience_partner_ids
    return partner_id == reflection.partner_id  # organization only; coordinators only


def reflection_readers_clause(actor, reflections=None):
    """SQL: the reflections (of table `reflections`, or of the alias given) the actor may
    read. The visibility has one shape, built once per process, with the user as a bound
    value (see content_clause); the copy with the actor's values is kept for the actor's
    lifetime, as several rules ask for it (reading a reflection, its replies, their authors:
    a search asked four times)."""
    Reflection, _, _ = _models()
    if actor.user_id is None:
        return false()
    reflections = Reflection.__table__ if reflections is None else reflections
    key = ("reflection_readers", reflections)
    clause = actor.memo.get(key)
    if clause is None:
        clause = actor.memo[key] = and_(
            content_clause(actor, reflections.c.id),
            with_values(_visibility_clause(reflections), policy_user_id=actor.user_id))
    return clause


@functools.cache
def policy_parent():
    """The alias under which the rules of what belongs to a reflection (replies, actions)
    find their reflection: one correlated EXISTS per row, by primary key, where `IN (every
    reflection the actor may read)` computed that whole set whatever the page."""
    Reflection, _, _ = _models()
    return Reflection.__table__.alias("policy_parent")


@functools.cache
def _visibility_clause(reflections):
    from coprod.reflections.models import Visibility

    _, Audience, Membership = _models()
    r = reflections.c
    seat = Membership.__table__.alias()  # never correlated with a memberships table outside
    user_id = bindparam("policy_user_id")
    return exists().where(
        seat.c.user_id == user_id,
        seat.c.collaboration_id == r.collaboration_id,
        or_(
            r.author_id == user_id,
            r.visibility == Visibility.COLLABORATION,
            and_(r.visibility == Visibility.COORDINATORS, seat.c.role == Role.COORDINATOR),
            and_(r.visibility == Visibility.ORGANIZATION, seat.c.partner_id == r.partner_id),
            and_(r.visibility == Visibility.PARTNERS,
                 or_(seat.c.partner_id == r.partner_id,
                     # correlate() by name: the reflection is two levels up, and automatic
                     # correlation only looks one level up (it would read "in ANY audience").
                     seat.c.partner_id.in_(select(Audience.partner_id).where(
                         Audience.reflection_id == r.id).correlate(reflections)))),
        ),
    )


class ReadsReflection(Grant):
    """Reads the reflection the object is (or belongs to)."""

    def allows(self, actor, obj, scope):
        return reads_reflection(actor, scope.reflection_of(obj))

    def where(self, actor, scope):
        Reflection, _, _ = _models()
        column = scope.reflection_id_col()
        if column is Reflection.id:
            return reflection_readers_clause(actor)
        parent = policy_parent()
        return exists().where(parent.c.id == column, reflection_readers_clause(actor, parent))


class ReflectionOpen(Grant):
    """A condition: the reflection has not been withdrawn."""

    def allows(self, actor, obj, scope):
        return scope.reflection_of(obj).withdrawn_at is None

    def where(self, actor, scope):
        Reflection, _, _ = _models()
        column = scope.reflection_id_col()
        if column is Reflection.id:
            return Reflection.withdrawn_at.is_(None)
        parent = policy_parent()
        return exists().where(parent.c.id == column, parent.c.withdrawn_at.is_(None))


class NotTheAuthor(Grant):
    """A condition: someone other than the reflection's author. "We see this too" answers
    someone else's reflection; its author already said it."""

    def allows(self, actor, obj, scope):
        return obj.author_id != actor.user_id

    def where(self, actor, scope):
        Reflection, _, _ = _models()
        if actor.user_id is None:
            return true()
        return Reflection.author_id != literal(actor.user_id)


class ReflectionCanBecomeAction(Grant):
    """A condition: an 'improve' reflection that is not an action yet."""

    def allows(self, actor, obj, scope):
        from coprod.reflections.models import Kind

        return obj.kind == Kind.IMPROVE and obj.action is None

    def where(self, actor, scope):
        from coprod.reflections.models import ImprovementAction, Kind, Reflection

        return and_(Reflection.kind == Kind.IMPROVE, ~exists().where(
            ImprovementAction.reflection_id == Reflection.id))


class AttributedToPerson(Grant):
    """The author chose to be named."""

    def allows(self, actor, obj, scope):
        from coprod.reflections.models import Attribution

        return obj.attribution == Attribution.PERSON

    def where(self, actor, scope):
        from coprod.reflections.models import Attribution, Reflection

        return Reflection.attribution == Attribution.PERSON


class SpeaksForAPartner(Grant):
    """A member acting on behalf of a partner organization of the object's collaboration."""

    roles = frozenset({Role.COORDINATOR, Role.PARTNER_STAFF})

    def allows(self, actor, obj, scope):
        seat = actor.seat(scope.collaboration_id_of(obj))
        return seat is not None and seat.partner_id is not None and seat.role in self.roles

    def where(self, actor, scope):
        from coprod.spaces.models import Membership

        if actor.user_id is None:
            return false()
        return scope.collaboration_id_col().in_(select(Membership.collaboration_id).where(
            Membership.user_id == actor.user_id, Membership.partner_id.is_not(None),
            Membership.role.in_(self.roles)))


class ConversationParticipant(Grant):
    """Takes part in the conversation (the object is it, or one of its messages)."""

    def allows(self, actor, obj, scope):
        conversation = scope.conversation_of(obj)
        return actor.user_id is not None and any(
            p.user_id == actor.user_id for p in conversation.participants)

    def where(self, actor, scope):
        from coprod.messages.models import Participant

        if actor.user_id is None:
            return false()
        return scope.conversation_id_col().in_(select(Participant.conversation_id).where(
            Participant.user_id == actor.user_id))


class ReplyNamesItsAuthor(Grant):
    """A reply names its author, unless the author is the reflection's own author who chose
    to speak for their organization only: naming them in the thread would undo that choice."""

    def allows(self, actor, obj, scope):
        from coprod.reflections.models import Attribution

        reflection = obj.reflection
        return (reflection.attribution == Attribution.PERSON
                or obj.author_id != reflection.author_id)

    def where(self, actor, scope):
        from coprod.reflections.models import Attribution, Reflection, Reply

        parent = aliased(Reflection)
        return exists().where(parent.id == Reply.reflection_id, or_(
            parent.attribution == Attribution.PERSON, parent.author_id != Reply.author_id))
