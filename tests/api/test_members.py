"""Members: list them, change a role, remove one, leave."""

from __future__ import annotations

from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.spaces.models import Membership
from tests.factories import PartnerFactory


def _url(space, tail=""):
    return f"/api/v1/collaborations/{space.collab.id}/members{tail}"


def test_members_list_with_roles_and_partner(client, db, space):
    body = client.get(_url(space), headers=space.as_observer).get_json()
    assert body["total"] == 3
    by_role = {m["role"]: m for m in body["items"]}
    assert set(by_role) == {"coordinator", "observer", "partner_staff"}
    staff = by_role["partner_staff"]
    assert staff["user"] == {"id": space.staff.user.id,
                             "display_name": space.staff.user.display_name}
    assert staff["partner"] == {"id": space.partner.id, "name": space.partner.name}


def test_emails_only_for_coordinators_and_oneself(client, db, space):
    as_observer = client.get(_url(space), headers=space.as_observer).get_json()["items"]
    emails = {m["user"]["id"]: m["email"] for m in as_observer}
    assert emails[space.observer.user.id] == space.observer.user.email
    assert emails[space.staff.user.id] is None
    as_coordinator = client.get(_url(space), headers=space.as_coordinator).get_json()["items"]
    assert all(m["email"] for m in as_coordinator)


def test_coordinator_changes_a_role(client, db, space):
    url = _url(space, f"/{space.observer.id}")
    response = client.patch(url, json={"role": "partner_staff", "partner_id": space.partner.id},
                            headers=space.as_coordinator)
    assert response.status_code == 200
    assert response.get_json()["role"] == "partner_staff"
    assert response.get_json()["partner"]["id"] == space.partner.id
    assert client.get(url, headers=space.as_observer).get_json()["role"] == "partner_staff"


def test_partner_staff_needs_a_partner_of_this_collaboration(client, db, space):
    elsewhere = PartnerFactory()
    db.session.commit()
    url = _url(space, f"/{space.observer.id}")
    response = client.patch(url, json={"role": "partner_staff"}, headers=space.as_coordinator)
    assert response.status_code == 422 and response.get_json()["field"] == "partner_id"
    response = client.patch(url, json={"role": "partner_staff", "partner_id": elsewhere.id},
                            headers=space.as_coordinator)
    assert response.status_code == 422 and response.get_json()["field"] == "partner_id"


def test_last_coordinator_cannot_step_down(client, db, space):
    response = client.patch(_url(space, f"/{space.coordinator.id}"), json={"role": "observer"},
                            headers=space.as_coordinator)
    assert response.status_code == 409
    assert response.get_json()["field"] == "role"


def test_unknown_role_is_422(client, db, space):
    response = client.patch(_url(space, f"/{space.observer.id}"), json={"role": "king"},
                            headers=space.as_coordinator)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["role"]


def test_observer_may_not_change_or_remove_others(client, db, space):
    url = _url(space, f"/{space.staff.id}")
    assert client.patch(url, json={"role": "observer"},
                        headers=space.as_observer).status_code == 403
    assert client.delete(url, headers=space.as_observer).status_code == 403
    db.session.expire_all()
    assert db.session.get(Membership, space.staff.id).role == Role.PARTNER_STAFF


def test_coordinator_removes_and_a_member_leaves(client, db, space):
    assert client.delete(_url(space, f"/{space.staff.id}"),
                         headers=space.as_coordinator).status_code == 204
    assert client.delete(_url(space, f"/{space.observer.id}"),
                         headers=space.as_observer).status_code == 204
    left = db.session.scalars(select(Membership.id).where(
        Membership.collaboration_id == space.collab.id)).all()
    assert left == [space.coordinator.id]
    # gone from the collaboration: it answers 404 now
    response = client.get(f"/api/v1/collaborations/{space.collab.id}",
                          headers=space.as_observer)
    assert response.status_code == 404
