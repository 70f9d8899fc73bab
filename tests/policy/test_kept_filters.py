"""The policy's SQL filters are kept per process by the actor's policy facts
(coprod/policy/kept.py): the same facts get the same filter, other facts never, and a kept
filter judges consent periods when its statement runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import DateTime, bindparam, literal, select, update

from coprod import policy
from coprod.citizens import operations as citizens
from coprod.citizens.models import Citizen
from coprod.policy import kept
from coprod.spaces.models import Membership
from tests.citizens.conftest import build_world


def _referable(db, user) -> set[int]:
    actor = policy.actor_for(user)
    return set(db.session.scalars(
        select(Citizen.id).where(policy.where(actor, Citizen, "reference"))))


def test_the_same_facts_get_the_same_filter_and_other_facts_another(db):
    world = build_world(db)
    first = policy.where(policy.actor_for(world.cafe_staff), Citizen, "reference")
    again = policy.where(policy.actor_for(world.cafe_staff), Citizen, "reference")
    other = policy.where(policy.actor_for(world.shelter_staff), Citizen, "reference")
    assert again is first and other is not first
    assert _referable(db, world.cafe_staff) == {world.citizen.id}
    assert _referable(db, world.shelter_staff) == set()


def test_a_kept_filter_judges_the_consent_when_it_runs(db):
    """The café may write about the citizen while the consent is in force; the same kept
    filter stops offering the citizen once its period has ended, with nothing written."""
    world = build_world(db)
    citizens.give_consent(
        policy.actor_for(world.coordinator), world.citizen,
        partner_ids=[world.jobcentre.id, world.cafe.id],
        category_ids=[world.contact.id, world.preferences.id], purpose="Finding work",
        starts_on=date.today() - timedelta(days=1), ends_on=date.today() + timedelta(days=2),
        replaces=world.consent)
    db.session.commit()
    clause = policy.where(policy.actor_for(world.cafe_staff), Citizen, "reference")
    assert _referable(db, world.cafe_staff) == {world.citizen.id}
    with freeze_time(datetime.now(UTC) + timedelta(days=5)):
        assert policy.where(policy.actor_for(world.cafe_staff), Citizen, "reference") is clause
        assert _referable(db, world.cafe_staff) == set()


def test_a_member_moved_to_another_partner_gets_the_filter_of_their_new_facts(db):
    world = build_world(db)
    assert _referable(db, world.cafe_staff) == {world.citizen.id}
    db.session.execute(update(Membership).where(Membership.user_id == world.cafe_staff.id)
                       .values(partner_id=world.shelter.id))
    db.session.commit()
    assert _referable(db, world.cafe_staff) == set()


def test_a_statement_holding_an_instant_is_not_kept():
    """A value of the moment a statement was built would outlive that moment if kept: such a
    statement is built again each time."""
    store = kept.Kept(maxsize=8)
    at = bindparam("at", value=datetime(2030, 1, 1, tzinfo=UTC), type_=DateTime(timezone=True))
    built = []

    def build():
        built.append(1)
        return select(literal(1)).where(at < literal(datetime(2031, 1, 1, tzinfo=UTC)))

    store.get(("instant",), build)
    store.get(("instant",), build)
    assert len(built) == 2 and ("instant",) not in store.store
    timeless = store.get(("timeless",), lambda: select(literal(1)))
    assert store.get(("timeless",), lambda: None) is timeless


def test_a_shared_part_of_a_statement_is_looked_at_once(monkeypatch):
    """A search's statement holds one filter in many places: holds_an_instant() looks at each
    element once (walking every path through shared parts took a search's first statement
    for an actor seconds, and a minute in a test), and still finds a fixed instant however
    deep it lies."""
    from sqlalchemy import and_, column
    from sqlalchemy.sql.elements import BooleanClauseList

    looked_at = []
    children = BooleanClauseList.get_children
    monkeypatch.setattr(BooleanClauseList, "get_children",
                        lambda self, **kw: looked_at.append(self) or children(self, **kw))

    def nested(value, levels: int = 16):
        clause = column("at") > bindparam("at", value, type_=DateTime)
        for _ in range(levels):  # each level holds the one below twice: 2^16 paths
            clause = and_(clause | literal(False), clause | literal(True))
        return select(column("id")).where(clause)

    assert kept.holds_an_instant(nested(datetime(2026, 1, 1, tzinfo=UTC)))
    assert len(looked_at) < 100, len(looked_at)
    assert not kept.holds_an_instant(nested(None))
