"""The seats a signed-in user acts with are read in the statement that finds them (the
log-in's or the API token's: coprod.policy.actors.seats_column), as one text column: the
same seats the memberships table holds, every role, with or without a partner, in every
collaboration, and none for a user who is a member nowhere."""

from __future__ import annotations

from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.policy import actor_for
from coprod.policy.actors import Seat, seats_column, seats_of
from coprod.reflections.models import Visibility
from coprod.reflections.operations import post_reflection
from coprod.spaces.models import Membership
from tests.citizens.conftest import build_world
from tests.factories import PASSWORD, CollaborationFactory, MembershipFactory, UserFactory


def _in_the_table(db, user_id: int) -> dict[int, Seat]:
    return {m.collaboration_id: Seat(m.role, m.partner_id) for m in db.session.scalars(
        select(Membership).where(Membership.user_id == user_id))}


def test_the_seats_column_holds_every_membership(db):
    world = build_world(db)
    elsewhere = CollaborationFactory(title="Elsewhere")
    MembershipFactory(collaboration=elsewhere, role=Role.OBSERVER, partner=None,
                      user=world.cafe_staff)
    nobody = UserFactory()
    db.session.commit()
    for user in (world.coordinator, world.lone_coordinator, world.cafe_staff,
                 world.citizen_user, world.guardian, nobody):
        read = seats_of(db.session.scalar(select(seats_column(user.id))))
        assert read == _in_the_table(db, user.id), user.display_name
    assert seats_of(db.session.scalar(select(seats_column(world.cafe_staff.id)))) == {
        world.collaboration.id: Seat(Role.PARTNER_STAFF, world.cafe.id),
        elsewhere.id: Seat(Role.OBSERVER, None)}
    assert seats_of(db.session.scalar(select(seats_column(nobody.id)))) == {}


def test_a_page_and_an_api_call_act_with_the_seats_read_at_sign_in(db, new_client):
    """The café's member reads what the job centre wrote for the café, on the web and through
    the API; moved to the shelter, they act for the shelter from their next request."""
    world = build_world(db)
    post_reflection(actor_for(world.case_worker), world.collaboration, body="For the café",
                    kind="improve", perspective="citizens", component="routines",
                    learning_level="inter", mode="exploitation",
                    visibility=Visibility.PARTNERS, audience=[world.cafe.id])
    _token, secret = create_token(world.cafe_staff, "tests")
    db.session.commit()
    browser = new_client()
    assert browser.post("/login", data={"email": world.cafe_staff.email,
                                        "password": PASSWORD}).status_code == 302
    feed = f"/c/{world.collaboration.id}/reflections"

    def read() -> tuple[bool, bool]:
        api = new_client().get(f"/api/v1{feed.replace('/c/', '/collaborations/')}",
                               headers={"Authorization": f"Bearer {secret}"})
        assert api.status_code == 200
        return ("For the café" in browser.get(feed).get_data(as_text=True),
                any(item["body"] == "For the café" for item in api.get_json()["items"]))

    assert read() == (True, True)
    seat = db.session.scalars(select(Membership).where(
        Membership.user_id == world.cafe_staff.id)).one()
    seat.partner_id = world.shelter.id
    db.session.commit()
    assert read() == (False, False)


def test_a_collaboration_is_read_by_its_key_and_the_actors_seats_alone(db):
    """policy.get_or_404 loads a READ_BY_KEY model by its key and asks may(): that answer
    must come from the actor's seats with no statement of its own, and be the filter's."""
    from werkzeug.exceptions import NotFound

    from coprod import policy
    from coprod.policy.rules import READ_BY_KEY
    from coprod.spaces.models import Collaboration
    from tests.conftest import count_statements

    world = build_world(db)
    elsewhere = CollaborationFactory(title="Elsewhere")
    db.session.commit()
    assert Collaboration in READ_BY_KEY
    for user in (world.coordinator, world.cafe_staff, world.citizen_user, world.guardian):
        actor = actor_for(user)
        actor.seats()
        for collab in (world.collaboration, elsewhere):
            readable = db.session.scalar(policy.scoped(actor, Collaboration).where(
                Collaboration.id == collab.id)) is not None
            assert count_statements(db, policy.may, actor, "read", collab) == 0
            assert policy.may(actor, "read", collab) == readable
            try:
                assert policy.get_or_404(actor, Collaboration, collab.id) is collab
                assert readable, user.display_name
            except NotFound:
                assert not readable, user.display_name
