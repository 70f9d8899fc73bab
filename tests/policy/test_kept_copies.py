"""The policy's clauses with an actor's values are copied once per process and kept
(policy/grants.with_values): the next request with the same values gets the same copy, and
the instant consent periods are judged at is taken each time a statement runs, never the
instant the copy was made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import DateTime, bindparam, literal, select

from coprod import policy
from coprod.policy import consent
from coprod.policy.grants import with_values
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection
from tests.citizens.conftest import build_world

ENDS = datetime(2030, 1, 1, 12, tzinfo=UTC)


def _in_force():
    """A clause of the shape the policy uses: a period that ends at ENDS, judged at the bound
    instant `policy_at`."""
    return bindparam("policy_at", type_=DateTime(timezone=True)) < literal(ENDS)


def test_a_kept_copy_judges_periods_when_its_statement_runs(db):
    clause = _in_force()
    with freeze_time(ENDS - timedelta(minutes=1)):
        copy = with_values(clause, policy_at=consent.now)
        assert db.session.scalar(select(copy)) is True
    with freeze_time(ENDS + timedelta(minutes=1)):
        again = with_values(clause, policy_at=consent.now)
        assert again is copy  # kept, not copied again
        assert db.session.scalar(select(again)) is False  # the period ended meanwhile


def test_copies_are_kept_per_value_and_never_shared_between_values(db):
    clause = _in_force()
    early, late = ENDS - timedelta(days=1), ENDS + timedelta(days=1)
    assert with_values(clause, policy_at=early) is with_values(clause, policy_at=early)
    assert with_values(clause, policy_at=late) is not with_values(clause, policy_at=early)
    assert db.session.scalar(select(with_values(clause, policy_at=early))) is True
    assert db.session.scalar(select(with_values(clause, policy_at=late))) is False


def test_each_member_reads_through_their_own_copy(db):
    """Members of different partners get copies with their own partners, in one process,
    one after the other: what each may read is what the policy says for them."""
    world = build_world(db)
    note = dict(kind="works", perspective="citizens", component="routines",
                learning_level="inter", mode="exploitation")
    reflections.post_reflection(world.actor(world.case_worker), world.collaboration,
                                body="Anna found her place", visibility="partners",
                                audience=[world.cafe.id], citizen=world.citizen.id,
                                categories=[world.preferences.id], **note)
    reflections.post_reflection(world.actor(world.cafe_staff), world.collaboration,
                                body="Our rota", visibility="organization", **note)
    reflections.post_reflection(world.actor(world.shelter_staff), world.collaboration,
                                body="Beds free", **note)
    db.session.flush()
    readers = [world.cafe_staff, world.shelter_staff, world.case_worker, world.coordinator]
    seen = []
    for _round in range(2):  # the second round is served from kept copies
        for user in readers:
            actor = policy.actor_for(user)
            listed = set(db.session.scalars(
                select(Reflection.id).where(policy.where(actor, Reflection, "read"))))
            allowed = {r.id for r in db.session.scalars(select(Reflection))
                       if policy.may(actor, "read", r)}
            assert listed == allowed, user.email
            seen.append(frozenset(listed))
    assert len(set(seen)) == 3 and seen[:4] == seen[4:]  # café, shelter, the job centre
