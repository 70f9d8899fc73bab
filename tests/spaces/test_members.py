"""Members: who takes part, changing roles, removing, leaving."""

from __future__ import annotations

from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.spaces.models import Membership
from tests.spaces.pages import error_of, page, text_of_page


def _seat(db, membership_id) -> Membership | None:
    db.session.expire_all()
    return db.session.get(Membership, membership_id)


def test_members_see_names_roles_and_partners_but_not_emails(client, sign_in, space):
    observer = space.people.observer
    sign_in(observer.user)
    response = client.get(f"/c/{space.collab.id}/members")
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Jens Jobcentre Partner staff Job centre" in text
    assert "Carla Cafe Partner staff Café Solsikke" in text
    assert "Cora Coordinator" in text and "Coordinator" in text
    assert "Otto Outsider" not in text
    assert space.people.staff_a.user.email not in text
    assert observer.user.email in text  # one's own address is no secret to oneself


def test_coordinators_see_emails(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    text = text_of_page(client.get(f"/c/{space.collab.id}/members"))
    for m in vars(space.people).values():
        assert m.user.email in text


def test_coordinator_changes_a_role_and_partner(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    citizen = space.people.citizen
    response = client.post(f"/c/{space.collab.id}/members/{citizen.id}", data={
        f"member-{citizen.id}-role": "partner_staff",
        f"member-{citizen.id}-partner_id": str(space.cafe.id)}, follow_redirects=True)
    assert response.status_code == 200
    assert "Cit Izen's role is saved." in page(response)
    seat = _seat(db, citizen.id)
    assert (seat.role, seat.partner_id) == (Role.PARTNER_STAFF, space.cafe.id)
    row = page(response).split(f'id="member-{citizen.id}"', 1)[1].split("</tr>", 1)[0]
    assert '<option selected value="partner_staff">' in row
    assert f'<option selected value="{space.cafe.id}">Café Solsikke</option>' in row


def test_partner_staff_without_a_partner_is_an_error_next_to_the_field(client, sign_in, space,
                                                                       db):
    sign_in(space.people.coordinator.user)
    citizen = space.people.citizen
    response = client.post(f"/c/{space.collab.id}/members/{citizen.id}", data={
        f"member-{citizen.id}-role": "partner_staff", f"member-{citizen.id}-partner_id": ""})
    assert response.status_code == 422
    assert (error_of(response, f"member-{citizen.id}-partner_id")
            == "Choose the partner organization this person works for.")
    # The row keeps what was chosen.
    assert '<option selected value="partner_staff">' in page(response)
    assert _seat(db, citizen.id).role == Role.CITIZEN


def test_a_partner_of_another_collaboration_is_not_a_choice(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    citizen = space.people.citizen
    response = client.post(f"/c/{space.collab.id}/members/{citizen.id}", data={
        f"member-{citizen.id}-role": "partner_staff",
        f"member-{citizen.id}-partner_id": str(space.other_partner.id)})
    assert response.status_code == 422
    assert error_of(response, f"member-{citizen.id}-partner_id")
    assert _seat(db, citizen.id).partner_id is None


def test_the_last_coordinator_cannot_step_down(client, sign_in, space, db):
    coordinator = space.people.coordinator
    sign_in(coordinator.user)
    response = client.post(f"/c/{space.collab.id}/members/{coordinator.id}", data={
        f"member-{coordinator.id}-role": "observer", f"member-{coordinator.id}-partner_id": ""})
    assert response.status_code == 409
    assert (error_of(response, f"member-{coordinator.id}-role")
            == "A collaboration needs at least one coordinator.")
    assert _seat(db, coordinator.id).role == Role.COORDINATOR


def test_coordinator_removes_a_member_who_then_sees_nothing(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    citizen = space.people.citizen
    response = client.post(f"/c/{space.collab.id}/members/{citizen.id}/remove",
                           follow_redirects=True)
    assert "Cit Izen is no longer a member." in page(response)
    assert _seat(db, citizen.id) is None
    assert client.post("/logout").status_code in (302, 303)
    sign_in(citizen.user)
    assert client.get(f"/c/{space.collab.id}").status_code == 404


def test_a_member_leaves(client, sign_in, space, db):
    observer = space.people.observer
    sign_in(observer.user)
    response = client.post(f"/c/{space.collab.id}/leave")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    assert "You left Meaningful work." in page(client.get("/"))
    assert "Meaningful work" not in text_of_page(client.get("/"))
    assert _seat(db, observer.id) is None
    assert client.get(f"/c/{space.collab.id}/members").status_code == 404


def test_the_last_coordinator_cannot_leave(client, sign_in, space, db):
    coordinator = space.people.coordinator
    sign_in(coordinator.user)
    response = client.post(f"/c/{space.collab.id}/leave")
    assert response.status_code == 409
    assert ("You cannot leave: A collaboration needs at least one coordinator. "
            "Make someone else coordinator first." in page(response))
    assert _seat(db, coordinator.id) is not None


def test_a_coordinator_may_leave_when_another_remains(client, sign_in, space, db):
    from tests.factories import member

    member(space.collab, Role.COORDINATOR)
    db.session.commit()
    coordinator = space.people.coordinator
    sign_in(coordinator.user)
    assert client.post(f"/c/{space.collab.id}/leave").status_code == 302
    assert db.session.scalar(select(Membership).where(
        Membership.id == coordinator.id)) is None
