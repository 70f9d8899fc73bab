"""PartnerKnowledge (what the SQL filters read of consent and need-to-know) follows every
operation that changes what it is made of, in the same flush, and the pages follow it.

Each step changes one input through the operation a user would call, then checks the kept
rows against their definition (coprod.policy.consent.knowledge_rows) and what the café's
staff may read of a reflection about the citizen, in SQL and per object.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from coprod import policy
from coprod.citizens import operations as citizens
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection
from coprod.servicemap import operations as servicemap
from tests.citizens.conftest import build_world
from tests.policy.tables import kept_and_defined_knowledge


def kept(db) -> set[tuple]:
    return kept_and_defined_knowledge(db)[0]


def defined(db) -> set[tuple]:
    return kept_and_defined_knowledge(db)[1]


def cafe_reads(db, world, reflection) -> bool:
    """Whether the café's staff read the reflection, with SQL and per object agreeing."""
    actor = policy.actor_for(world.cafe_staff)
    listed = reflection.id in set(db.session.scalars(
        select(Reflection.id).where(policy.where(actor, Reflection, "read"))))
    assert listed == policy.may(policy.actor_for(world.cafe_staff), "read", reflection)
    return listed


def about_the_citizen(db, world) -> Reflection:
    reflection = reflections.post_reflection(
        world.actor(world.case_worker), world.collaboration, kind="works",
        perspective="citizens", component="routines", learning_level="inter",
        mode="exploitation", body="Anna found her place", visibility="partners",
        audience=[world.cafe.id], citizen=world.citizen.id, categories=[world.preferences.id])
    db.session.flush()
    return reflection


def step(db, world, reflection, *, café_reads: bool) -> None:
    assert kept(db) == defined(db)
    assert cafe_reads(db, world, reflection) is café_reads


def test_rows_follow_consent_withdrawal_and_a_new_consent(db):
    world = build_world(db)
    reflection = about_the_citizen(db, world)
    assert kept(db)
    step(db, world, reflection, café_reads=True)
    boss = world.actor(world.coordinator)
    citizens.withdraw_consent(boss, world.consent, partner_id=world.cafe.id)
    step(db, world, reflection, café_reads=False)
    citizens.give_consent(
        boss, world.citizen, partner_ids=[world.cafe.id], category_ids=[world.preferences.id],
        purpose="Again", starts_on=date.today() - timedelta(days=1),
        given_by="guardian", given_by_name="Guardian", method="paper")
    step(db, world, reflection, café_reads=True)


def test_rows_follow_the_service_map(db):
    world = build_world(db)
    reflection = about_the_citizen(db, world)
    boss = world.actor(world.coordinator)
    # The café still receives work preferences by the flow once it stops performing...
    servicemap.update_activity(boss, world.workplace, name="Find a workplace",
                               performer_ids=[world.jobcentre.id])
    step(db, world, reflection, café_reads=True)
    # ...and has no need to know once the flow goes too.
    for flow in list(world.workplace.flows):
        servicemap.delete_flow(boss, flow)
    db.session.expire(world.workplace)  # as the next request would load it
    step(db, world, reflection, café_reads=False)
    servicemap.update_activity(boss, world.workplace, name="Find a workplace",
                               performer_ids=[world.jobcentre.id, world.cafe.id])
    step(db, world, reflection, café_reads=True)
    servicemap.delete_activity(boss, world.volunteering)
    servicemap.delete_activity(boss, world.workplace)
    step(db, world, reflection, café_reads=False)


def test_rows_follow_the_citizens_service_and_erasure(db):
    world = build_world(db)
    reflection = about_the_citizen(db, world)
    boss = world.actor(world.coordinator)

    def set_activities(ids):
        citizens.update_citizen(boss, world.citizen, pseudonym="Citizen A", name="Anna Jensen",
                                activity_ids=ids, user_id=world.citizen_user.id,
                                guardian_ids=[world.guardian.id])

    set_activities([world.volunteering.id])
    step(db, world, reflection, café_reads=False)
    set_activities([world.workplace.id])
    step(db, world, reflection, café_reads=True)
    citizens.erase_citizen(boss, world.citizen)
    assert kept(db) == defined(db) == set()


def test_who_may_read_costs_one_consent_lookup_per_partner_not_per_member(db):
    """The mention list of a reflection about a citizen asks once per partner organization
    what it may know of the citizen (it asked once per member)."""
    from coprod.accounts.models import Role
    from coprod.reflections.queries import members_who_read
    from coprod.spaces.models import Membership
    from tests.conftest import count_statements
    from tests.factories import member

    world = build_world(db)
    reflection = about_the_citizen(db, world)
    for n in range(6):
        member(world.collaboration, Role.PARTNER_STAFF, world.cafe, display_name=f"Café {n}")
    db.session.flush()
    members = list(db.session.scalars(select(Membership).where(
        Membership.collaboration_id == world.collaboration.id)))
    readers = []
    statements = count_statements(db, lambda: readers.extend(
        members_who_read(reflection, members)))
    partners_with_staff = {m.partner_id for m in members if m.partner_id is not None}
    assert statements <= len(partners_with_staff) + 1  # and the reference's citizen, once
    cafe_staff = [m for m in members if m.partner_id == world.cafe.id]
    assert set(cafe_staff) <= set(readers)
    assert not [m for m in readers if m.partner_id == world.shelter.id]
