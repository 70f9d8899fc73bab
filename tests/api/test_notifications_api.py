"""/api/v1/me/notifications and /api/v1/me/notification-settings."""

from __future__ import annotations

import pytest

from coprod.accounts.models import EmailPreference
from coprod.citizens import operations as citizens
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from tests.citizens.conftest import build_world

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


@pytest.fixture
def world(db):
    return build_world(db)


def replies_to_the_case_worker(db, world, n=3):
    note = reflections.post_reflection(actor_for(world.case_worker), world.collaboration,
                                       body="The calendar works", **NOTE)
    answers = [reflections.reply(actor_for(world.cafe_staff), note, f"Reply {i}")
               for i in range(n)]
    db.session.commit()
    return note, answers


def test_the_list_is_paginated_newest_first_with_the_unread_count(client, db, world, bearer):
    note, answers = replies_to_the_case_worker(db, world)
    response = client.get("/api/v1/me/notifications?page_size=2",
                          headers=bearer(world.case_worker))
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 3 and body["total_pages"] == 2 and body["unread_count"] == 3
    first = body["items"][0]
    assert first["kind"] == "reply" and first["about"] == f"reply:{answers[-1].id}"
    assert first["headline"] == "Café staff replied to your reflection"
    assert first["link"] == (f"/c/{world.collaboration.id}/reflections/{note.id}"
                             f"#reply-{answers[-1].id}")
    assert first["collaboration_title"] == "Meaningful work" and first["read_at"] is None
    assert "Reply" not in str(body)
    other = client.get("/api/v1/me/notifications", headers=bearer(world.cafe_staff))
    assert other.get_json()["total"] == 0


def test_marking_read_by_ids_and_all(client, db, world, bearer):
    replies_to_the_case_worker(db, world)
    headers = bearer(world.case_worker)
    items = client.get("/api/v1/me/notifications", headers=headers).get_json()["items"]
    response = client.post("/api/v1/me/notifications/read", json={"ids": [items[0]["id"]]},
                           headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"marked": 1, "unread_count": 2}
    response = client.post("/api/v1/me/notifications/read", json={"all": True},
                           headers=headers)
    assert response.get_json() == {"marked": 2, "unread_count": 0}
    listed = client.get("/api/v1/me/notifications", headers=headers).get_json()
    assert all(item["read_at"] for item in listed["items"])


def test_someone_elses_notification_is_404_and_a_bad_request_422(client, db, world, bearer):
    replies_to_the_case_worker(db, world, n=1)
    mine = client.get("/api/v1/me/notifications", headers=bearer(world.case_worker))
    theirs = mine.get_json()["items"][0]["id"]
    response = client.post("/api/v1/me/notifications/read", json={"ids": [theirs]},
                           headers=bearer(world.cafe_staff))
    assert response.status_code == 404
    for body in ({}, {"ids": [theirs], "all": True}, {"all": False}):
        response = client.post("/api/v1/me/notifications/read", json=body,
                               headers=bearer(world.case_worker))
        assert response.status_code == 422, body


def test_a_withdrawn_consent_hides_the_notification(client, db, world, bearer):
    reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, body="Anna wants café hours",
        citizen=world.citizen.id, categories=[world.preferences.id],
        visibility=Visibility.PARTNERS, audience=[world.cafe.id],
        mentions=[world.cafe_staff.id], **NOTE)
    db.session.commit()
    headers = bearer(world.cafe_staff)
    assert client.get("/api/v1/me/notifications", headers=headers).get_json()["total"] == 1
    citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                              partner_id=world.cafe.id)
    db.session.commit()
    body = client.get("/api/v1/me/notifications", headers=headers).get_json()
    assert body["total"] == 0 and body["unread_count"] == 0 and body["items"] == []


def test_settings_read_and_change(client, db, world, bearer):
    headers = bearer(world.case_worker)
    response = client.get("/api/v1/me/notification-settings", headers=headers)
    assert response.get_json() == {"notify_email": "immediately", "summary_hour": 8,
                                   "timezone": "Europe/Copenhagen"}
    response = client.patch("/api/v1/me/notification-settings",
                            json={"notify_email": "daily", "summary_hour": 18},
                            headers=headers)
    assert response.status_code == 200
    assert response.get_json()["notify_email"] == "daily"
    db.session.expire_all()
    assert world.case_worker.notify_email == EmailPreference.DAILY
    assert world.case_worker.summary_hour == 18
    for bad in ({"summary_hour": 24}, {"notify_email": "hourly"}, {"timezone": "UTC"}):
        response = client.patch("/api/v1/me/notification-settings", json=bad, headers=headers)
        assert response.status_code == 422, bad


def test_the_openapi_document_describes_them(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"get"} <= set(spec["paths"]["/api/v1/me/notifications"])
    assert {"post"} <= set(spec["paths"]["/api/v1/me/notifications/read"])
    assert {"get", "patch"} <= set(spec["paths"]["/api/v1/me/notification-settings"])
    page = spec["components"]["schemas"]["NotificationPage"]
    assert "unread_count" in page["properties"]
