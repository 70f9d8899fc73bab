"""The caller's own things: tokens (secret shown once) and the organizations they know."""

from __future__ import annotations

from sqlalchemy import select

from coprod.accounts.models import ApiToken
from tests.factories import (
    CollaborationFactory,
    MembershipFactory,
    OrganizationFactory,
    PartnerFactory,
    UserFactory,
)


def test_create_list_and_revoke_tokens(client, db, bearer):
    user = UserFactory()
    headers = bearer(user)
    response = client.post("/api/v1/tokens", json={"name": "Nightly export"}, headers=headers)
    assert response.status_code == 201
    created = response.get_json()
    assert created["secret"].startswith("cpd_") and created["active"] is True
    assert created["display_prefix"] == created["secret"][:10]
    stored = db.session.get(ApiToken, created["id"])
    assert stored.token_hash == ApiToken.digest(created["secret"])  # only the hash is kept

    new_headers = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/v1/me", headers=new_headers).get_json()["id"] == user.id

    listed = client.get("/api/v1/tokens", headers=headers).get_json()
    assert {t["name"] for t in listed["items"]} == {"tests", "Nightly export"}
    assert all("secret" not in t for t in listed["items"])

    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=new_headers).status_code == 401
    listed = client.get("/api/v1/tokens", headers=headers).get_json()["items"]
    assert [(t["name"], t["active"]) for t in listed] == [("tests", True),
                                                          ("Nightly export", False)]


def test_token_needs_a_name(client, db, bearer):
    response = client.post("/api/v1/tokens", json={"name": "  "}, headers=bearer(UserFactory()))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["name"]


def test_someone_elses_token_answers_404(client, db, bearer):
    owner = UserFactory()
    headers = bearer(owner)
    theirs = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    response = client.delete(f"/api/v1/tokens/{theirs.id}", headers=bearer(UserFactory()))
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_organizations_known_through_my_collaborations(client, db, bearer):
    user = UserFactory()
    mine = CollaborationFactory()
    MembershipFactory(collaboration=mine, user=user)
    PartnerFactory(collaboration=mine, organization=OrganizationFactory(name="Café Kaffe"))
    PartnerFactory(collaboration=mine, organization=OrganizationFactory(name="Animal shelter"))
    PartnerFactory(organization=OrganizationFactory(name="Someone else's"))
    body = client.get("/api/v1/organizations", headers=bearer(user)).get_json()
    assert [o["name"] for o in body["items"]] == ["Animal shelter", "Café Kaffe"]
    assert body["items"][0]["sector"] == "public" and body["total"] == 2
