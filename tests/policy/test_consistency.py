"""Over random worlds, the per-object answer and the SQL filter of every rule agree.

This is Discourse's can_see consistency check: for every actor, rule and object,
`policy.may(actor, action, obj)` is true exactly when the object is in
`select(model).where(policy.where(actor, model, action))`.

The worlds include service maps (activities with performers, flows with categories), citizens
taking part in activities, consents (random partners and categories, periods in the past, now
or later, some withdrawn or changed), citizen references on reflections, replies and messages,
and erased citizens, all written as raw rows so that combinations the operations refuse are
tried too.
"""

from __future__ import annotations

import re
from datetime import timedelta
from unittest.mock import patch

import pytest
from hypothesis import Phase
from hypothesis import strategies as st
from sqlalchemy import Select, select

from coprod import policy
from coprod.accounts.models import Role
from coprod.citizens.models import (
    AuditAction,
    AuditEvent,
    Citizen,
    CitizenReference,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.common import utcnow
from coprod.messages.models import Conversation, Message, Participant
from coprod.policy import visibility as visibility_rules
from coprod.policy.rules import RULES, SCOPES, Rule
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
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import CollaborationStatus, Membership
from tests.conftest import fresh_world, run_worlds, shards, worlds
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
from tests.policy.tables import kept_and_defined_knowledge

# 300 worlds in the ci profile (tests/conftest.py), a tenth of them in dev, in shards that
# xdist runs side by side.
CI_WORLDS, CI_SHARDS = 300, 10
SHARDS = shards(CI_SHARDS)
EXAMPLES = worlds(CI_WORLDS) // SHARDS

world_specs = st.fixed_dictionaries({
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
    # -- the service map and citizens; partner and category indexes are of the collaboration --
    "categories": st.integers(1, 3),  # per collaboration
    # (collaboration, performer partners)
    "activities": st.lists(st.tuples(st.integers(0, 2), st.lists(st.integers(0, 7),
                                                                 min_size=1, max_size=3)),
                           min_size=1, max_size=4),
    # (activity, from partner, to partner, categories)
    "flows": st.lists(st.tuples(st.integers(0, 3), st.integers(0, 7), st.integers(0, 7),
                                st.lists(st.integers(0, 2), min_size=1, max_size=2)),
                      max_size=4),
    # (collaboration, activities, citizen user (6: none), guardian users, erased)
    "citizens": st.lists(st.tuples(
        st.integers(0, 2), st.lists(st.integers(0, 3), min_size=1, max_size=2),
        st.integers(0, 6), st.lists(st.integers(0, 5), max_size=2),
        st.sampled_from([None, None, "flag", "full"])), min_size=1, max_size=3),
    # (citizen, partners (7: of any collaboration), categories, period, then, partners after)
    "consents": st.lists(st.tuples(
        st.integers(0, 2), st.lists(st.integers(0, 7), min_size=1, max_size=3),
        st.lists(st.integers(0, 2), min_size=1, max_size=2),
        st.sampled_from(["past", "now", "open", "open", "future"]),
        st.sampled_from([None, None, "withdrawn", "changed"]),
        st.lists(st.integers(0, 7), min_size=1, max_size=2)), min_size=1, max_size=5),
    # (reflection|reply|message, which, citizen of its collaboration, categories)
    "references": st.lists(st.tuples(
        st.sampled_from(["reflection", "reply", "message"]), st.integers(0, 5),
        st.integers(0, 2), st.sampled_from([[0], [1], [0, 1], [0, 2], [1, 2], []])),
        min_size=1, max_size=6),
    # (citizen, user) of an audit event
    "audit": st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5)), max_size=3),
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
    content = {"reflection": _build_reflections(db, spec, seats, partners)}
    content["reply"] = list(db.session.scalars(select(Reply).order_by(Reply.id)))
    content["message"] = _build_conversations(db, spec, collabs, users)
    db.session.flush()
    _build_citizens(db, spec, collabs, partners, users, content)
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
    db.session.flush()
    return reflections


def _build_conversations(db, spec, collabs, users):
    messages = []
    for ci, user_indexes in spec["conversations"]:
        if ci >= len(collabs):
            continue
        conversation = Conversation(collaboration_id=collabs[ci].id, subject="s")
        conversation.participants = [Participant(user_id=users[i].id)
                                     for i in sorted(set(user_indexes)) if i < len(users)]
        db.session.add(conversation)
        db.session.flush()
        for p in conversation.participants:
            messages.append(Message(conversation_id=conversation.id, author_id=p.user_id,
                                    body="hello"))
            db.session.add(messages[-1])
    db.session.flush()
    return messages


PERIODS = {"past": (-10, -3), "now": (-1, 5), "open": (-1, None), "future": (3, None)}


def _build_citizens(db, spec, collabs, partners, users, content):
    """The service map, citizens, consents and references: raw rows, every combination."""
    def own(items, collaboration_id):
        return [x for x in items if x.collaboration_id == collaboration_id]

    categories = [InformationCategory(collaboration_id=c.id, name=f"k{i}")
                  for c in collabs for i in range(spec["categories"])]
    db.session.add_all(categories)
    activities = []
    for ci, performers in spec["activities"]:
        collab = collabs[ci % len(collabs)]
        mine = own(partners, collab.id)
        activities.append(Activity(
            collaboration_id=collab.id, position=len(activities), name=f"a{len(activities)}",
            performers=list({mine[i % len(mine)] for i in performers}) if mine else []))
    db.session.add_all(activities)
    db.session.flush()
    for ai, fi, ti, kinds in spec["flows"]:
        if not activities:
            break
        activity = activities[ai % len(activities)]
        mine = own(partners, activity.collaboration_id)
        if len(mine) > 1 and mine[fi % len(mine)] is not mine[ti % len(mine)]:
            ks = own(categories, activity.collaboration_id)
            db.session.add(InformationFlow(
                collaboration_id=activity.collaboration_id, activity=activity,
                from_partner=mine[fi % len(mine)], to_partner=mine[ti % len(mine)],
                categories=list({ks[k % len(ks)] for k in kinds})))
    citizens = []
    for ci, steps, ui, guardians, _erased in spec["citizens"]:
        collab = collabs[ci % len(collabs)]
        here = own(activities, collab.id)
        citizen = Citizen(
            collaboration_id=collab.id, pseudonym=f"c{len(citizens)}", name="n",
            user_id=users[ui].id if ui < len(users) else None,
            activities=list({here[i % len(here)] for i in steps}) if here else [],
            guardians=list({users[g % len(users)] for g in guardians} - (
                {users[ui]} if ui < len(users) else set())))
        citizens.append(citizen)
    db.session.add_all(citizens)
    db.session.flush()
    if citizens:
        _build_consents(db, spec, citizens, partners, categories)
        _build_references(db, spec, citizens, categories, content)
        for ci, ui in spec["audit"]:
            citizen = citizens[ci % len(citizens)]
            db.session.add(AuditEvent(
                collaboration_id=citizen.collaboration_id, citizen_id=citizen.id,
                user_id=users[ui % len(users)].id, action=AuditAction.READ,
                object_type="citizen", object_id=citizen.id))
    for citizen, (*_, erased) in zip(citizens, spec["citizens"], strict=True):
        if erased:  # "flag": only marked erased; "full": as erase_citizen leaves it
            citizen.erased_at = utcnow()
        if erased == "full":
            citizen.name, citizen.user_id, citizen.guardians, citizen.activities = (
                None, None, [], [])
            db.session.execute(CitizenReference.__table__.delete().where(
                CitizenReference.citizen_id == citizen.id))
    db.session.flush()


def _build_consents(db, spec, citizens, partners, categories):
    now = utcnow()
    for ci, chosen, kinds, when, then, after in spec["consents"]:
        citizen = citizens[ci % len(citizens)]
        mine = [p for p in partners if p.collaboration_id == citizen.collaboration_id]
        ks = [k for k in categories if k.collaboration_id == citizen.collaboration_id]

        def pick(indexes, mine=mine):
            return list({partners[i % len(partners)] if i == 7 or not mine
                         else mine[i % len(mine)] for i in indexes} if partners else set())

        start, end = PERIODS[when]
        consent = Consent(
            citizen_id=citizen.id, status=ConsentStatus.PERMIT, given_by=ConsentGiver.CITIZEN,
            method=ConsentMethod.PAPER, starts_at=now + timedelta(days=start),
            ends_at=None if end is None else now + timedelta(days=end),
            partners=pick(chosen), categories=list({ks[k % len(ks)] for k in kinds}))
        db.session.add(consent)
        db.session.flush()
        if then is not None:
            db.session.add(Consent(
                citizen_id=citizen.id, replaces_id=consent.id, given_by=ConsentGiver.CITIZEN,
                method=ConsentMethod.ONLINE, starts_at=consent.starts_at,
                ends_at=consent.ends_at,
                categories=list(consent.categories)[:1 if then == "changed" else None],
                status=ConsentStatus.WITHDRAWN if then == "withdrawn" else ConsentStatus.PERMIT,
                partners=list(consent.partners) if then == "withdrawn" else pick(after)))
    db.session.flush()


def _build_references(db, spec, citizens, categories, content):
    taken = set()
    for kind, index, ci, kinds in spec["references"]:
        items = content[kind]
        if not items:
            continue
        item = items[index % len(items)]
        collaboration_id = SCOPES[type(item)].collaboration_id_of(item)
        here = [c for c in citizens if c.collaboration_id == collaboration_id]
        if not here or (kind, item.id) in taken:
            continue
        taken.add((kind, item.id))
        ks = [k for k in categories if k.collaboration_id == collaboration_id]
        db.session.add(CitizenReference(
            citizen_id=here[ci % len(here)].id, **{f"{kind}_id": item.id},
            categories=list({ks[k % len(ks)] for k in kinds})))
    db.session.flush()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_may_agrees_with_the_sql_filter(db, shard):
    def check(spec):
        with fresh_world(db):
            check_world(db, spec)

    run_worlds(world_specs, check, examples=EXAMPLES, shard=shard)


def _uncorrelated_audience(reflections):
    """The bug the worlds once caught: the audience subquery not correlated to the
    reflection, so that "in ANY reflection's audience" passes for "in this one's". Built
    afresh (the real clause is built once per process)."""
    with patch.object(Select, "correlate", lambda self, *_: self):
        return BUILD_VISIBILITY(reflections)


BUILD_VISIBILITY = visibility_rules._visibility_clause.__wrapped__


def first_failure(db) -> str | None:
    """The message of the first world, of those `make test` draws (the ci profile's shards,
    seeds and numbers, in any profile), where may() and a filter disagree; None if none."""
    def check(spec):
        with fresh_world(db):
            check_world(db, spec)

    for shard in range(CI_SHARDS):
        try:
            run_worlds(world_specs, check, examples=CI_WORLDS // CI_SHARDS, shard=shard,
                       fixed_seed=True, phases=[Phase.generate], database=None)
        except AssertionError as caught:
            return str(caught)
    return None


def test_the_worlds_catch_a_planted_policy_bug(db, monkeypatch):
    """The random worlds can fail: with the audience subquery uncorrelated, they find a
    reflection listed that may() denies."""
    monkeypatch.setattr(visibility_rules, "_visibility_clause", _uncorrelated_audience)
    caught = first_failure(db)
    assert caught is not None, "the ci profile's worlds miss a planted policy bug"
    assert re.search(r"Reflection\.read #\d+ for user", caught), caught


def test_the_worlds_catch_a_given_filter_that_drops_too_much(db, monkeypatch):
    """policy.where_given may leave out only what the read rule guarantees: planted, a
    version that leaves out every condition (an archived space's, a withdrawn reflection's)
    is caught by the worlds."""
    monkeypatch.setattr(Rule, "implied_by", lambda self, known: list(self.conditions))
    caught = first_failure(db)
    assert caught is not None, "the ci profile's worlds miss a given filter that drops too much"
    assert re.search(r"\w+\.\w+ given read #\d+ for user", caught), caught


def assert_knowledge_kept(db):
    """The PartnerKnowledge rows the SQL filters read are exactly their definition."""
    kept, defined = kept_and_defined_knowledge(db)
    assert kept == defined


def check_world(db, spec):
    """Build the world once, then compare may() with the SQL filter for every reader."""
    users = _build(db, spec)
    assert_knowledge_kept(db)
    actors = [policy.actor_for(u) for u in users] + [policy.Actor(user_id=None)]
    models = {model for model, _ in RULES}
    everything = {m: db.session.scalars(select(m)).unique().all() for m in models}
    for actor in actors:
        for (model, action) in RULES:
            if not everything[model]:
                continue  # nothing to compare with (the table tests run every clause)
            pk = model.__mapper__.primary_key[0]
            listed = set(db.session.scalars(
                select(pk).select_from(model).where(policy.where(actor, model, action))))
            for obj in everything[model]:
                ident = getattr(obj, pk.key)
                assert policy.may(actor, action, obj) == (ident in listed), (
                    f"{model.__name__}.{action} #{ident} for user {actor.user_id}")
            check_given(db, actor, model, action, everything[model])
    # Members who left see nothing of the collaboration they left.
    remaining = {(m.user_id, m.collaboration_id) for m in db.session.scalars(select(Membership))}
    for actor in actors[:-1]:
        assert set(actor.seats()) == {c for u, c in remaining if u == actor.user_id}


def check_given(db, actor, model, action, objects):
    """Where a rule's conditions are implied by the model's read rule, the filter for rows
    already read (policy.where_given) lists, of the readable objects, exactly those may()
    allows."""
    known = RULES.get((model, "read"))
    if action == "read" or known is None or not RULES[(model, action)].implied_by(known):
        return
    pk = model.__mapper__.primary_key[0]
    listed = set(db.session.scalars(select(pk).select_from(model).where(
        policy.where(actor, model, "read"), policy.where_given(actor, model, action))))
    for obj in objects:
        ident = getattr(obj, pk.key)
        if policy.may(actor, "read", obj):
            assert policy.may(actor, action, obj) == (ident in listed), (
                f"{model.__name__}.{action} given read #{ident} for user {actor.user_id}")
