"""Collaborations: list mine (paginated), start one, read one, change and archive one."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.spaces.models import Collaboration, CollaborationStatus, Membership
from tests.factories import (
    CollaborationFactory,
    MembershipFactory,
    OrganizationFactory,
    PartnerFactory,
    UserFactory,
    member,
)

NEW = {"title": "Meaningful work", "purpose": "new_service", "remit_kind": "social_group",
       "remit": "People on disability pension"}


def test_create_makes_the_caller_coordinator(client, db, bearer):
    user = UserFactory()
    headers = bearer(user)
    response = client.post("/api/v1/collaborations", json={**NEW, "interdependence": "pooled"},
                           headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["title"] == "Meaningful work"
    assert body["purpose"] == "new_service" and body["interdependence"] == "pooled"
    assert body["status"] == "active" and body["my_role"] == "coordinator"
    assert datetime.fromisoformat(body["created_at"]).utcoffset().total_seconds() == 0
    membership = db.session.scalar(select(Membership).where(
        Membership.collaboration_id == body["id"], Membership.user_id == user.id))
    assert membership.role == Role.COORDINATOR


def test_create_with_a_new_organization_makes_it_the_first_partner(client, db, bearer):
    headers = bearer(UserFactory())
    response = client.post("/api/v1/collaborations", headers=headers, json={
        **NEW, "organization_name": "Job centre", "organization_sector": "public"})
    assert response.status_code == 201
    partners = client.get(f"/api/v1/collaborations/{response.get_json()['id']}/partners",
                          headers=headers).get_json()["items"]
    assert [p["organization"]["name"] for p in partners] == ["Job centre"]


def test_create_with_an_unknown_organization_names_the_field(client, db, bearer):
    stranger_org = OrganizationFactory()
    db.session.commit()
    response = client.post("/api/v1/collaborations", headers=bearer(UserFactory()),
                           json={**NEW, "organization_id": stranger_org.id})
    assert response.status_code == 422
    assert response.get_json()["field"] == "organization_id"
    assert db.session.scalar(select(Collaboration)) is None


def test_list_shows_only_my_collaborations(client, db, bearer):
    mine = member(CollaborationFactory(title="B space"), Role.OBSERVER)
    also_mine = CollaborationFactory(title="A space")
    MembershipFactory(collaboration=also_mine, user=mine.user, role=Role.CITIZEN)
    CollaborationFactory(title="Not mine")
    db.session.commit()
    body = client.get("/api/v1/collaborations", headers=bearer(mine.user)).get_json()
    assert [c["title"] for c in body["items"]] == ["A space", "B space"]
    assert [c["my_role"] for c in body["items"]] == ["citizen", "observer"]
    assert body["total"] == 2


def test_list_filters_by_status(client, db, bearer):
    active = member(CollaborationFactory(title="Running"))
    archived = CollaborationFactory(title="Done", status=CollaborationStatus.ARCHIVED)
    MembershipFactory(collaboration=archived, user=active.user)
    db.session.commit()
    body = client.get("/api/v1/collaborations?status=archived",
                      headers=bearer(active.user)).get_json()
    assert [c["title"] for c in body["items"]] == ["Done"]
    response = client.get("/api/v1/collaborations?status=closed", headers=bearer(active.user))
    assert response.status_code == 422
    assert "status" in response.get_json()["errors"]["query"]


def test_get_one(client, db, space):
    response = client.get(f"/api/v1/collaborations/{space.collab.id}",
                          headers=space.as_observer)
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Meaningful work" and body["my_role"] == "observer"
    assert body["remit_kind"] == "social_group"


def test_coordinator_updates_and_archives(client, db, space):
    url = f"/api/v1/collaborations/{space.collab.id}"
    response = client.patch(url, json={"title": "Meaningful work 2", "interdependence": None},
                            headers=space.as_coordinator)
    assert response.status_code == 200
    assert response.get_json()["title"] == "Meaningful work 2"
    assert response.get_json()["interdependence"] is None
    response = client.patch(url, json={"status": "archived"}, headers=space.as_coordinator)
    assert response.get_json()["status"] == "archived"
    db.session.expire_all()
    assert db.session.get(Collaboration, space.collab.id).status == CollaborationStatus.ARCHIVED


def test_a_change_of_choices_answers_their_values(client, db, space):
    """Found by Schemathesis: a PATCH with interdependence or purpose answered 500 (the
    StrEnum value was stripped into a plain str that the answer could not serialize)."""
    response = client.patch(f"/api/v1/collaborations/{space.collab.id}",
                            json={"interdependence": "pooled", "purpose": "new_service"},
                            headers=space.as_coordinator)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["interdependence"], response.get_json()["purpose"]) == (
        "pooled", "new_service")


def test_observer_may_not_change(client, db, space):
    response = client.patch(f"/api/v1/collaborations/{space.collab.id}",
                            json={"title": "Mine now"}, headers=space.as_observer)
    assert response.status_code == 403
    assert response.get_json()["code"] == 403 and response.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Collaboration, space.collab.id).title == "Meaningful work"


def test_unknown_field_is_422_naming_it(client, db, bearer):
    response = client.post("/api/v1/collaborations", json={**NEW, "budget": 10},
                           headers=bearer(UserFactory()))
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"]["json"]["budget"] == ["Unknown field."]
    assert "budget" in body["message"]
    assert db.session.scalar(select(Collaboration)) is None


@pytest.mark.parametrize("field,value", [
    ("title", 42), ("purpose", "world_peace"), ("remit", ["a", "list"]), ("title", "   "),
    ("timezone", "Mars/Olympus"),
])
def test_wrong_type_or_value_is_422_naming_the_field(client, db, bearer, field, value):
    response = client.post("/api/v1/collaborations", json={**NEW, field: value},
                           headers=bearer(UserFactory()))
    assert response.status_code == 422
    body = response.get_json()
    assert body["status"] == "Unprocessable Entity"
    assert list(body["errors"]["json"]) == [field]


def test_missing_required_fields_are_listed(client, db, bearer):
    response = client.post("/api/v1/collaborations", json={"title": "Only a title"},
                           headers=bearer(UserFactory()))
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"purpose", "remit_kind", "remit"}


def test_invalid_json_body_is_400_json(client, db, bearer):
    response = client.post("/api/v1/collaborations", data="{not json",
                           content_type="application/json", headers=bearer(UserFactory()))
    assert response.status_code == 400
    assert response.get_json()["message"] == "Invalid JSON body."


def test_a_json_array_body_is_422(client, db, bearer):
    response = client.post("/api/v1/collaborations", json=[NEW], headers=bearer(UserFactory()))
    assert response.status_code == 422
    assert response.get_json()["message"]


def test_pagination_pages_in_sql(client, db, bearer):
    user = UserFactory()
    for i in range(5):
        MembershipFactory(collaboration=CollaborationFactory(title=f"Space {i}"), user=user)
    headers = bearer(user)
    pages = [client.get(f"/api/v1/collaborations?page={n}&page_size=2", headers=headers)
             .get_json() for n in (1, 2, 3, 4)]
    assert [[c["title"] for c in p["items"]] for p in pages] == [
        ["Space 0", "Space 1"], ["Space 2", "Space 3"], ["Space 4"], []]
    assert {(p["total"], p["total_pages"], p["page_size"]) for p in pages} == {(5, 3, 2)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]


@pytest.mark.parametrize("query,field", [
    ("page_size=101", "page_size"), ("page_size=0", "page_size"), ("page=0", "page"),
    ("page=two", "page"),
])
def test_page_size_over_the_maximum_is_refused(client, db, bearer, query, field):
    response = client.get(f"/api/v1/collaborations?{query}", headers=bearer(UserFactory()))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["query"]) == [field]


def test_page_size_maximum_follows_the_configuration(app, client, db, bearer, monkeypatch):
    monkeypatch.setitem(app.config, "API_PAGE_SIZE_MAX", 3)
    headers = bearer(UserFactory())
    assert client.get("/api/v1/collaborations?page_size=3", headers=headers).status_code == 200
    response = client.get("/api/v1/collaborations?page_size=4", headers=headers)
    assert response.get_json()["errors"]["query"]["page_size"] == ["At most 3 items per page."]


def test_list_query_count_does_not_grow_with_the_page(client, db, bearer, count_queries):
    user = UserFactory()
    headers = bearer(user)
    counts = []
    for extra in (1, 6):
        for _ in range(extra):
            collab = CollaborationFactory()
            PartnerFactory(collaboration=collab)
            MembershipFactory(collaboration=collab, user=user)
        db.session.commit()
        with count_queries() as counter:
            assert client.get("/api/v1/collaborations", headers=headers).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
