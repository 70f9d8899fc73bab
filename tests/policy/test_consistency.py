"""Over random worlds, the per-object answer and the SQL filter of every rule agree.

This is Discourse's can_see consistency check: for every actor, rule and object,
`policy.may(actor, action, obj)` is true exactly when the object is in
`select(model).where(policy.where(actor, model, action))`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.messages.models import Conversation, Message, Participant
from coprod.policy.rules import RULES
from coprod.reflections.models import (
    Attribution,
    Component,
    ImprovementAction,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Reflection,
    ReflectionAudience,
    Reply,
    Visibility,
)
from coprod.spaces.models import CollaborationStatus, Membership
from tests.conftest import reset_database
from tests.factories import (
    ApiTokenFactory,
    CollaborationFactory,
    InvitationFactory,
    MembershipFactory,
    OrganizationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
    UserFactory,
)

EXAMPLES = int(os.environ.get("COPROD_POLICY_EXAMPLES", "300"))

worlds = st.fixed_dictionaries({
    "collaborations": st.lists(st.booleans(), min_size=1, max_size=3),  # archived?
    "organizations": st.integers(min_value=1, max_value=4),
    "partners": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=8),
    "users": st.integers(min_value=1, max_value=6),
    "seats": st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 2),
                  st.sampled_from([Role.PARTNER_STAFF, Role.PARTNER_STAFF, *Role]),
                  st.integers(0, 7)),
        min_size=2, max_size=12),
    "leavers": st.lists(st.integers(0, 11), max_size=3),
    "invitations": st.lists(st.integers(0, 2), max_size=3),
    "tokens": st.lists(st.integers(0, 5), max_size=3),
    "revisions": st.lists(st.integers(0, 2), max_size=3),
    # (author seat, visibility, audience partner indexes, kind, attribution, withdrawn)
    "reflections": st.lists(st.tuples(
        st.integers(0, 11), st.sampled_from(list(Visibility)),
        st.lists(st.integers(0, 7), max_size=3), st.sampled_from(list(Kind)),
        st.sampled_from(list(Attribution)), st.booleans()), min_size=2, max_size=6),
    # (reflection, author seat)
    "replies": st.lists(st.tuples(st.integers(0, 5), st.integers(0, 11)), max_size=5),
    # (reflection, owner partner)
    "actions": st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7)), max_size=3),
    # (collaboration, participant users)
    "conversations": st.lists(st.tuples(st.integers(0, 2), st.lists(st.integers(0, 5),
                                                                    max_size=4)), max_size=3),
})


def _build(db, spec):
    collabs = [CollaborationFactory(status=CollaborationStatus.ARCHIVED if archived
                                    else CollaborationStatus.ACTIVE)
               for archived in spec["collaborations"]]
    orgs = [OrganizationFactory() for _ in range(spec["organizations"])]
    partners = []
    # Indexes wrap around (modulo) rather than being skipped, so that worlds stay dense.
    for ci, oi in spec["partners"]:
        ci, oi = ci % len(collabs), oi % len(orgs)
        if not any(
                p.collaboration is collabs[ci] and p.organization is orgs[oi] for p in partners):
            p = PartnerFactory(collaboration=collabs[ci], organization=orgs[oi])
            ResponsibilityFactory(partner=p)
            ResourceFactory(partner=p)
            partners.append(p)
    users = [UserFactory() for _ in range(spec["users"])]
    seats = []
    for ui, ci, role, pi in spec["seats"]:
        ui, ci = ui % len(users), ci % len(collabs)
        if any(s.user is users[ui] and s.collaboration is collabs[ci] for s in seats):
            continue
        own = [p for p in partners if p.collaboration is collabs[ci]]
        speaks_for = role in (Role.PARTNER_STAFF, Role.COORDINATOR) and pi % 4 != 3
        partner = own[pi % len(own)] if own and speaks_for else None
        seats.append(MembershipFactory(user=users[ui], collaboration=collabs[ci],
                                       role=role, partner=partner))
    for ci in spec["invitations"]:
        if ci < len(collabs):
            InvitationFactory(collaboration=collabs[ci])
    for ui in spec["tokens"]:
        if ui < len(users):
            ApiTokenFactory(user=users[ui])
    for ci in spec["revisions"]:
        if ci < len(collabs):
            from coprod.spaces.models import CharterRevision

            charter = collabs[ci].charter
            charter.version += 1
            db.session.add(CharterRevision(collaboration_id=collabs[ci].id,
                                           version=charter.version, why="x"))
    db.session.flush()
    _build_reflections(db, spec, seats, partners)
    _build_conversations(db, spec, collabs, users)
    db.session.flush()
    for li in spec["leavers"]:
        if li < len(seats) and seats[li] in db.session:
            db.session.delete(seats[li])
    db.session.commit()
    return users


def _build_reflections(db, spec, seats, partners):
    """Raw rows, so that every combination is tried, even ones operations would refuse."""
    reflections = []
    for si, visibility, audience, kind, attribution, withdrawn in spec["reflections"]:
        if not seats:
            break
        seat = seats[si % len(seats)]
        reflection = Reflection(
            collaboration_id=seat.collaboration_id, author_id=seat.user_id,
            partner_id=seat.partner_id, kind=kind, perspective=Perspective.CITIZENS,
            component=Component.ROUTINES, learning_level=LearningLevel.INTER,
            mode=LearningMode.EXPLOITATION, body="text", visibility=visibility,
            attribution=attribution, withdrawn_at=utcnow() if withdrawn else None)
        own = [p for p in partners if p.collaboration_id == seat.collaboration_id]
        reflection.audience = [ReflectionAudience(partner_id=p.id) for p in
                               {own[i % len(own)] for i in audience} if own] if own else []
        db.session.add(reflection)
        reflections.append(reflection)
    db.session.flush()
    for ri, si in spec["replies"]:
        if reflections and seats:
            db.session.add(Reply(reflection_id=reflections[ri % len(reflections)].id,
                                 author_id=seats[si % len(seats)].user_id, body="reply"))
    for ri, pi in spec["actions"]:
        if reflections and reflections[ri % len(reflections)].action is None:
            ri %= len(reflections)
            own = [p for p in partners if p.collaboration_id == reflections[ri].collaboration_id]
            if own:
                db.session.add(ImprovementAction(reflection=reflections[ri], title="do it",
                                                 owner_partner_id=own[pi % len(own)].id))


def _build_conversations(db, spec, collabs, users):
    for ci, user_indexes in spec["conversations"]:
        if ci >= len(collabs):
            continue
        conversation = Conversation(collaboration_id=collabs[ci].id, subject="s")
        conversation.participants = [Participant(user_id=users[i].id)
                                     for i in sorted(set(user_indexes)) if i < len(users)]
        db.session.add(conversation)
        db.session.flush()
        for p in conversation.participants:
            db.session.add(Message(conversation_id=conversation.id, author_id=p.user_id,
                                   body="hello"))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds)
def test_may_agrees_with_the_sql_filter(db, spec):
    db.session.remove()
    reset_database(db)
    users = _build(db, spec)
    actors = [policy.actor_for(u) for u in users] + [policy.Actor(user_id=None)]
    models = {model for model, _ in RULES}
    everything = {m: db.session.scalars(select(m)).unique().all() for m in models}
    for actor in actors:
        for (model, action) in RULES:
            pk = model.__mapper__.primary_key[0]
            listed = set(db.session.scalars(
                select(pk).select_from(model).where(policy.where(actor, model, action))))
            for obj in everything[model]:
                ident = getattr(obj, pk.key)
                assert policy.may(actor, action, obj) == (ident in listed), (
                    f"{model.__name__}.{action} #{ident} for user {actor.user_id}")
    # Members who left see nothing of the collaboration they left.
    remaining = {(m.user_id, m.collaboration_id) for m in db.session.scalars(select(Membership))}
    for actor in actors[:-1]:
        assert set(actor.seats()) == {c for u, c in remaining if u == actor.user_id}
