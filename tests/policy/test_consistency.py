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
from coprod.policy.rules import RULES
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

EXAMPLES = int(os.environ.get("COPROD_POLICY_EXAMPLES", "60"))

worlds = st.fixed_dictionaries({
    "collaborations": st.lists(st.booleans(), min_size=1, max_size=3),  # archived?
    "organizations": st.integers(min_value=1, max_value=4),
    "partners": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=8),
    "users": st.integers(min_value=1, max_value=6),
    "seats": st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from(list(Role)),
                  st.integers(0, 7)),
        max_size=12),
    "leavers": st.lists(st.integers(0, 11), max_size=3),
    "invitations": st.lists(st.integers(0, 2), max_size=3),
    "tokens": st.lists(st.integers(0, 5), max_size=3),
    "revisions": st.lists(st.integers(0, 2), max_size=3),
})


def _build(db, spec):
    collabs = [CollaborationFactory(status=CollaborationStatus.ARCHIVED if archived
                                    else CollaborationStatus.ACTIVE)
               for archived in spec["collaborations"]]
    orgs = [OrganizationFactory() for _ in range(spec["organizations"])]
    partners = []
    for ci, oi in spec["partners"]:
        if ci < len(collabs) and oi < len(orgs) and not any(
                p.collaboration is collabs[ci] and p.organization is orgs[oi] for p in partners):
            p = PartnerFactory(collaboration=collabs[ci], organization=orgs[oi])
            ResponsibilityFactory(partner=p)
            ResourceFactory(partner=p)
            partners.append(p)
    users = [UserFactory() for _ in range(spec["users"])]
    seats = []
    for ui, ci, role, pi in spec["seats"]:
        if ui >= len(users) or ci >= len(collabs) or any(
                s.user is users[ui] and s.collaboration is collabs[ci] for s in seats):
            continue
        own = [p for p in partners if p.collaboration is collabs[ci]]
        partner = own[pi % len(own)] if own and role == Role.PARTNER_STAFF else None
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
    for li in spec["leavers"]:
        if li < len(seats) and seats[li] in db.session:
            db.session.delete(seats[li])
    db.session.commit()
    return users


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
