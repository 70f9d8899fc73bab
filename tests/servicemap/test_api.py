"""/api/v1/collaborations/{id}/map: members read the map, coordinators write it; refusals are
JSON with the field at fault."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod.accounts.operations import create_token
from coprod.servicemap.models import Activity, InformationFlow


@pytest.fixture
def bearer(db):
    """bearer(user) -> headers with a new personal access token of `user`."""

    def _bearer(user) -> dict[str, str]:
        _token, secret = create_token(user, "tests")
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return _bearer


def _base(space) -> str:
    return f"/api/v1/collaborations/{space.collab.id}/map"


def test_a_coordinator_draws_the_map_and_a_member_reads_it(client, db, space, bearer):
    coordinator, observer = bearer(space.people.coordinator.user), bearer(
        space.people.observer.user)
    base = _base(space)
    first = client.post(base + "/activities", headers=coordinator, json={
        "name": "First meeting", "performer_ids": [space.job_centre.id]})
    assert first.status_code == 201, first.get_json()
    second = client.post(base + "/activities", headers=coordinator, json={
        "name": "Finding a workplace", "co_produced": True,
        "performer_ids": [space.job_centre.id, space.cafe.id]}).get_json()
    flow = client.post(base + "/flows", headers=coordinator, json={
        "activity_id": second["id"], "from_partner_id": space.job_centre.id,
        "to_partner_id": space.cafe.id, "category_ids": [space.needs.id, space.contact.id]})
    assert flow.status_code == 201, flow.get_json()
    assert [c["name"] for c in flow.get_json()["categories"]] == ["Contact details",
                                                                  "Support needs"]
    moved = client.patch(base + f"/activities/{second['id']}", headers=coordinator,
                         json={"move": "up"})
    assert moved.status_code == 200 and moved.get_json()["position"] == 1
    assert moved.get_json()["co_produced"] is True  # fields left out stay
    category = client.post(base + "/categories", headers=coordinator,
                           json={"name": "Progress notes", "description": "How it goes"})
    assert category.status_code == 201

    body = client.get(base, headers=observer).get_json()
    assert [a["name"] for a in body["activities"]] == ["Finding a workplace", "First meeting"]
    assert [p["name"] for p in body["activities"][0]["performers"]] == ["Job centre",
                                                                        "Café Solsikke"]
    got = body["activities"][0]["flows"][0]
    assert (got["from_partner"]["name"], got["to_partner"]["name"]) == ("Job centre",
                                                                        "Café Solsikke")
    assert [c["name"] for c in body["categories"]] == ["Contact details", "Progress notes",
                                                       "Support needs"]

    assert client.delete(base + f"/flows/{got['id']}", headers=coordinator).status_code == 204
    assert client.delete(base + f"/activities/{first.get_json()['id']}",
                         headers=coordinator).status_code == 204
    assert client.delete(base + f"/categories/{category.get_json()['id']}",
                         headers=coordinator).status_code == 204
    db.session.expire_all()
    assert db.session.scalar(select(InformationFlow)) is None
    assert db.session.scalars(select(Activity.name)).all() == ["Finding a workplace"]


def test_members_may_not_write_and_outsiders_see_nothing(client, db, space, bearer):
    base = _base(space)
    observer, outsider = bearer(space.people.observer.user), bearer(space.outsider.user)
    response = client.post(base + "/activities", headers=observer, json={"name": "Mine"})
    assert response.status_code == 403 and response.get_json()["code"] == 403
    response = client.patch(base + f"/categories/{space.needs.id}", headers=observer,
                            json={"name": "Renamed"})
    assert response.status_code == 403
    assert client.get(base, headers=outsider).status_code == 404
    assert client.post(base + "/categories", headers=outsider,
                       json={"name": "Intruding"}).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"from_partner_id": "cafe", "to_partner_id": "cafe"}, "to_partner_id"),
    ({"from_partner_id": "other", "to_partner_id": "cafe"}, "from_partner_id"),
    ({"from_partner_id": "cafe", "to_partner_id": "job", "category_ids": []}, "categories"),
])
def test_bad_flows_answer_422_with_the_field(client, db, space, bearer, body, field):
    coordinator = bearer(space.people.coordinator.user)
    ids = {"cafe": space.cafe.id, "job": space.job_centre.id, "other": space.other_partner.id}
    activity = client.post(_base(space) + "/activities", headers=coordinator,
                           json={"name": "First meeting"}).get_json()
    payload = {"activity_id": activity["id"], "category_ids": [space.needs.id], **body}
    payload["from_partner_id"] = ids[payload["from_partner_id"]]
    payload["to_partner_id"] = ids[payload["to_partner_id"]]
    response = client.post(_base(space) + "/flows", headers=coordinator, json=payload)
    assert response.status_code == 422
    assert response.get_json()["field"] == field
    assert db.session.scalar(select(InformationFlow)) is None


def test_bad_activities_and_categories_answer_422_or_409(client, db, space, bearer):
    coordinator = bearer(space.people.coordinator.user)
    base = _base(space)
    response = client.post(base + "/activities", headers=coordinator, json={"name": "  "})
    assert response.status_code == 422
    response = client.post(base + "/activities", headers=coordinator,
                           json={"name": "Meeting", "performer_ids": [space.other_partner.id]})
    assert response.status_code == 422 and response.get_json()["field"] == "performers"
    response = client.post(base + "/categories", headers=coordinator,
                           json={"name": "SUPPORT needs"})
    assert response.status_code == 409 and response.get_json()["field"] == "name"
    response = client.patch(base + "/activities/999999", headers=coordinator,
                            json={"move": "sideways"})
    assert response.status_code == 422
