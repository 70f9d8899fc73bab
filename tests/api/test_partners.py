"""Partners: list, add (known or new organization), describe, remove."""

from __future__ import annotations

from sqlalchemy import select

from coprod.spaces.models import Partner, ResponsibilityKind, Tangibility
from tests.factories import (
    CollaborationFactory,
    MembershipFactory,
    OrganizationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
)


def _url(space, tail=""):
    return f"/api/v1/collaborations/{space.collab.id}/partners{tail}"


def test_list_and_get_partners(client, db, space):
    ResponsibilityFactory(partner=space.partner, kind=ResponsibilityKind.STRATEGIC,
                          description="Sets the job centre's policy")
    ResourceFactory(partner=space.partner, tangibility=Tangibility.TANGIBLE,
                    description="Meeting rooms")
    db.session.commit()
    body = client.get(_url(space), headers=space.as_observer).get_json()
    assert body["total"] == 1
    [partner] = body["items"]
    assert partner["id"] == space.partner.id
    assert partner["organization"]["sector"] == "public"
    assert partner["responsibilities"] == [{"id": partner["responsibilities"][0]["id"],
                                            "kind": "strategic",
                                            "description": "Sets the job centre's policy"}]
    assert partner["resources"][0]["tangibility"] == "tangible"
    one = client.get(_url(space, f"/{space.partner.id}"), headers=space.as_observer)
    assert one.get_json() == partner


def test_coordinator_adds_a_new_and_a_known_organization(client, db, space, bearer):
    response = client.post(_url(space), json={"name": "Animal shelter", "sector": "third_sector"},
                           headers=space.as_coordinator)
    assert response.status_code == 201
    assert response.get_json()["organization"] == {
        "id": response.get_json()["organization"]["id"], "name": "Animal shelter",
        "sector": "third_sector"}

    # an organization the coordinator knows from another of their collaborations
    other = CollaborationFactory()
    cafe = PartnerFactory(collaboration=other, organization=OrganizationFactory(name="Café"))
    MembershipFactory(collaboration=other, user=space.coordinator.user)
    db.session.commit()
    response = client.post(_url(space), json={"organization_id": cafe.organization_id},
                           headers=space.as_coordinator)
    assert response.status_code == 201
    again = client.post(_url(space), json={"organization_id": cafe.organization_id},
                        headers=space.as_coordinator)
    assert again.status_code == 409
    assert again.get_json()["field"] == "organization_id"


def test_adding_without_name_names_the_field(client, db, space):
    response = client.post(_url(space), json={"sector": "public"}, headers=space.as_coordinator)
    assert response.status_code == 422
    assert response.get_json()["field"] == "name"


def test_staff_describe_their_own_partner_and_lists_are_replaced(client, db, space):
    ResourceFactory(partner=space.partner, description="Old know-how")
    db.session.commit()
    response = client.patch(_url(space, f"/{space.partner.id}"), headers=space.as_staff, json={
        "responsibilities": [{"kind": "operational", "description": "Matches citizens"},
                             {"kind": "strategic", "description": "Argues for jobs"}]})
    assert response.status_code == 200
    body = response.get_json()
    assert [r["description"] for r in body["responsibilities"]] == [
        "Matches citizens", "Argues for jobs"]
    assert [r["description"] for r in body["resources"]] == ["Old know-how"]  # left as it was

    response = client.patch(_url(space, f"/{space.partner.id}"), headers=space.as_coordinator,
                            json={"resources": []})
    assert response.get_json()["resources"] == []
    assert len(response.get_json()["responsibilities"]) == 2


def test_partner_items_are_validated(client, db, space):
    response = client.patch(_url(space, f"/{space.partner.id}"), headers=space.as_coordinator,
                            json={"resources": [{"tangibility": "solid", "description": " "}]})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]["resources"]["0"]
    assert set(errors) == {"tangibility", "description"}


def test_observer_and_other_partners_staff_may_not_describe(client, db, space, bearer):
    other = PartnerFactory(collaboration=space.collab)
    db.session.commit()
    for headers, pid in ((space.as_observer, space.partner.id), (space.as_staff, other.id)):
        response = client.patch(_url(space, f"/{pid}"), headers=headers,
                                json={"resources": []})
        assert response.status_code == 403


def test_coordinator_removes_a_partner_unless_members_act_for_it(client, db, space):
    spare = PartnerFactory(collaboration=space.collab)
    db.session.commit()
    assert client.delete(_url(space, f"/{spare.id}"),
                         headers=space.as_coordinator).status_code == 204
    assert db.session.get(Partner, spare.id) is None
    response = client.delete(_url(space, f"/{space.partner.id}"), headers=space.as_coordinator)
    assert response.status_code == 409 and response.get_json()["message"]
    response = client.delete(_url(space, f"/{space.partner.id}"), headers=space.as_staff)
    assert response.status_code == 403
    assert db.session.scalar(select(Partner).where(Partner.id == space.partner.id))


def test_partner_list_query_count_does_not_grow(client, db, space, count_queries):
    counts = []
    for extra in (1, 5):
        for _ in range(extra):
            p = PartnerFactory(collaboration=space.collab)
            ResponsibilityFactory(partner=p)
            ResourceFactory(partner=p)
        db.session.commit()
        url, headers = _url(space), space.as_observer
        with count_queries() as counter:
            assert client.get(url, headers=headers).status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]

