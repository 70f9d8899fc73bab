"""The digests API answers what the pages show: figures and themes of the caller's class only,
the settings and the review for coordinators."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.digests.models import Digest, DigestSettings, DigestStatus
from coprod.mail.models import OutboxEmail
from coprod.reflections.models import Reflection
from tests.digests.reading_world import (
    SECRET_WORDS,
    build_digest,
    build_reading_world,
    expected_total,
)


@pytest.fixture
def world(db):
    w = build_reading_world(db)
    w.digest = build_digest(db, w)
    return w


def _url(w, rest: str = "") -> str:
    return f"/api/v1/collaborations/{w.collaboration.id}{rest}"


def test_the_list_has_each_callers_figures(client, db, bearer, world):
    w = world
    for user in (w.shelter_staff, w.cafe_staff, w.coordinator):
        body = client.get(_url(w, "/digests"), headers=bearer(user)).get_json()
        assert body["total"] == 1 and body["page"] == 1
        item = body["items"][0]
        assert item["id"] == w.digest.id and item["status"] == "sent"
        assert item["figures"]["reflections"] == expected_total(db, w, user)
        assert item["first_day"] <= item["last_day"]


def test_a_digest_holds_only_what_the_shelter_may_read(client, db, bearer, world):
    w = world
    response = client.get(_url(w, f"/digests/{w.digest.id}"), headers=bearer(w.shelter_staff))
    assert response.status_code == 200
    body = response.get_json()
    assert body["figures"]["reflections"] == expected_total(db, w, w.shelter_staff)
    assert sum(row["n"] for row in body["participation"]["by_partner"]) == body["figures"][
        "reflections"]
    assert body["participation"]["response_rates"] is None  # coordinators only
    assert [q["partner_name"] for q in body["participation"]["gone_quiet"]] == [
        "Animal shelter"]
    text = response.get_data(as_text=True).lower()
    for word in SECRET_WORDS:
        assert word not in text
    shelter = policy.actor_for(w.shelter_staff)
    ids = {i for theme in body["themes"] for i in theme["reflection_ids"]}
    ids |= {a["reflection_id"] for state in body["actions"].values() for a in state}
    assert ids
    for rid in ids:
        assert policy.may(shelter, "read", db.session.get(Reflection, rid)), rid
    assert [t["trend"] for t in body["themes"]] == ["growing"]
    assert "minibus" in body["themes"][0]["label"]
    trend = body["counts"]["trend"]
    assert trend[-1]["total"] == body["figures"]["reflections"]


def test_the_cafe_sees_its_own_theme(client, bearer, world):
    w = world
    body = client.get(_url(w, f"/digests/{w.digest.id}"),
                      headers=bearer(w.cafe_staff)).get_json()
    labels = " ".join(t["label"] for t in body["themes"])
    assert "espresso" in labels or "grinder" in labels
    assert "overspend" not in labels


def test_coordinators_change_the_settings(client, db, bearer, world):
    w = world
    patch = {"cadence": "fortnightly", "send_automatically": True}
    assert client.patch(_url(w, "/digest-settings"), json=patch,
                        headers=bearer(w.case_worker)).status_code == 403
    response = client.patch(_url(w, "/digest-settings"), json=patch,
                            headers=bearer(w.coordinator))
    assert response.status_code == 200
    assert response.get_json()["cadence"] == "fortnightly"
    db.session.expire_all()
    stored = db.session.get(DigestSettings, w.collaboration.id)
    assert str(stored.cadence) == "fortnightly" and stored.send_automatically
    bad = client.patch(_url(w, "/digest-settings"), json={"cadence": "daily"},
                       headers=bearer(w.coordinator))
    assert bad.status_code == 422


def test_a_coordinator_reviews_and_sends(client, db, bearer, world):
    w = world
    w.digest.status = DigestStatus.BUILT  # waiting for review: the coordinators' only
    db.session.commit()
    url = _url(w, f"/digests/{w.digest.id}/send")
    assert client.post(url, json={"note": "x"},
                       headers=bearer(w.cafe_staff)).status_code == 404
    response = client.post(url, json={"note": "Good *month*"}, headers=bearer(w.coordinator))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "sent" and body["note"] == "Good *month*"
    db.session.expire_all()
    assert db.session.get(Digest, w.digest.id).status == DigestStatus.SENT
    assert db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key == f"digest:{w.digest.id}:{w.coordinator.id}")).all()
    again = client.post(url, json={}, headers=bearer(w.coordinator))
    assert again.status_code == 409


def test_the_openapi_document_lists_the_digest_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/collaborations/{collaboration_id}/digests",
                 "/api/v1/collaborations/{collaboration_id}/digests/{digest_id}",
                 "/api/v1/collaborations/{collaboration_id}/digests/{digest_id}/send",
                 "/api/v1/collaborations/{collaboration_id}/digest-settings"):
        assert path in paths, path
