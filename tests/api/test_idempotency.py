"""API writes: the answer is built before the commit (a database that drops right after it
cannot turn a stored write into an error), and a POST that creates something accepts an
Idempotency-Key, so that a client may retry it without creating twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from coprod.api.models import IdempotencyKey
from coprod.common import utcnow
from coprod.reflections.models import Reflection, Reply
from coprod.spaces.models import Collaboration, Partner

REFLECTION = {"kind": "improve", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation",
              "body": "Handovers work when we phone first."}


def reflections_url(space) -> str:
    return f"/api/v1/collaborations/{space.collab.id}/reflections"


def count(db, model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def drop_after_commit(db):
    """drop_after_commit("INSERT INTO reflections"): from the first commit after a statement
    starting so, every statement fails as if the server went away (until the fixture ends)."""
    state = {"wanted": None, "seen": False, "down": False}
    connection = db.engine

    def before(conn, cursor, statement, *args):
        if state["down"] and not statement.lstrip().upper().startswith(
                ("SAVEPOINT", "RELEASE", "ROLLBACK")):
            raise OperationalError(statement, {}, Exception("server closed the connection"))
        if state["wanted"] and statement.lstrip().startswith(state["wanted"]):
            state["seen"] = True

    def committed(session):
        if state["seen"]:
            state["down"] = True

    session = db.session()
    event.listen(connection, "before_cursor_execute", before)
    event.listen(session, "after_commit", committed)

    def arm(statement: str):
        state["wanted"] = statement
        return state

    yield arm
    event.remove(connection, "before_cursor_execute", before)
    if event.contains(session, "after_commit", committed):
        event.remove(session, "after_commit", committed)
    state["down"] = False


def test_a_reflection_stored_before_the_database_drops_answers_201(client, db, space,
                                                                   drop_after_commit):
    state = drop_after_commit("INSERT INTO reflections")
    response = client.post(reflections_url(space), json=REFLECTION, headers=space.as_staff)
    assert state["down"], "the database never dropped: the test tests nothing"
    state["down"] = state["seen"] = False
    state["wanted"] = None
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["body"] == REFLECTION["body"] and body["partner"]["id"] == space.partner.id
    assert count(db, Reflection) == 1
    assert db.session.scalar(select(Reflection.id)) == body["id"]


def test_a_reply_stored_before_the_database_drops_answers_201(client, db, space,
                                                              drop_after_commit):
    reflection = client.post(reflections_url(space), json=REFLECTION,
                             headers=space.as_staff).get_json()
    state = drop_after_commit("INSERT INTO replies")
    response = client.post(f"{reflections_url(space)}/{reflection['id']}/replies",
                           json={"body": "Agreed"}, headers=space.as_staff)
    assert state["down"]
    state.update(down=False, seen=False, wanted=None)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["body"] == "Agreed" and count(db, Reply) == 1


# -- Idempotency-Key --------------------------------------------------------------------------

def with_key(headers: dict, key: str) -> dict:
    return {**headers, "Idempotency-Key": key}


def test_the_same_key_and_body_answer_the_first_response_and_create_once(client, db, space):
    headers = with_key(space.as_staff, "retry-1")
    first = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    again = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(db, Reflection) == 1


def test_the_same_key_with_another_body_is_refused(client, db, space):
    headers = with_key(space.as_staff, "retry-2")
    assert client.post(reflections_url(space), json=REFLECTION,
                       headers=headers).status_code == 201
    other = client.post(reflections_url(space), json={**REFLECTION, "body": "Another"},
                        headers=headers)
    assert other.status_code == 422
    assert other.get_json()["code"] == 422 and "Idempotency-Key" in other.get_json()["message"]
    elsewhere = client.post(f"/api/v1/collaborations/{space.collab.id}/partners",
                            json={"name": "Other Ltd", "sector": "private"},
                            headers=with_key(space.as_coordinator, "retry-2"))
    assert elsewhere.status_code == 201  # keys are the caller's own
    assert count(db, Reflection) == 1


def test_keys_belong_to_their_user(client, db, space):
    reused = client.post(reflections_url(space), json=REFLECTION,
                         headers=with_key(space.as_staff, "mine"))
    coordinator = client.post(f"/api/v1/collaborations/{space.collab.id}/citizens",
                              json={"pseudonym": "C", "name": "C"},
                              headers=with_key(space.as_coordinator, "mine"))
    assert reused.status_code == 201 and coordinator.status_code == 201


def test_a_key_expires_after_a_day(client, db, space):
    headers = with_key(space.as_staff, "old")
    first = client.post(reflections_url(space), json=REFLECTION, headers=headers).get_json()
    db.session.execute(update(IdempotencyKey).values(
        created_at=utcnow() - timedelta(hours=24, minutes=1)))
    db.session.commit()
    again = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    assert again.status_code == 201 and again.get_json()["id"] != first["id"]
    assert count(db, Reflection) == 2
    assert count(db, IdempotencyKey) == 1  # the expired key made way for the new one


def test_a_failed_post_keeps_no_key(client, db, space):
    headers = with_key(space.as_staff, "fails-first")
    refused = client.post(reflections_url(space), json={**REFLECTION, "kind": "bad"},
                          headers=headers)
    assert refused.status_code == 422
    assert client.post(reflections_url(space), json=REFLECTION,
                       headers=headers).status_code == 201
    assert count(db, Reflection) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_400(client, space, key):
    response = client.post(reflections_url(space), json=REFLECTION,
                           headers=with_key(space.as_staff, key))
    assert response.status_code == 400 and response.get_json()["code"] == 400


def test_without_a_key_each_post_creates(client, db, space):
    for _ in range(2):
        assert client.post(reflections_url(space), json=REFLECTION,
                           headers=space.as_staff).status_code == 201
    assert count(db, Reflection) == 2 and count(db, IdempotencyKey) == 0


@pytest.mark.parametrize("path, body, model", [
    ("/api/v1/collaborations", {"title": "Another space", "purpose": "new_service",
                                "remit_kind": "social_group", "remit": "Young people"},
     Collaboration),
    ("/api/v1/collaborations/{c}/partners", {"name": "Café", "sector": "private"}, Partner),
])
def test_other_creating_posts_replay_too(client, db, space, path, body, model):
    url = path.format(c=space.collab.id)
    headers = with_key(space.as_coordinator, "create-once")
    before = count(db, model)
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.get_json()
    assert again.get_json() == first.get_json()
    assert count(db, model) == before + 1


def test_every_creating_post_documents_the_key(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    creating = [(path, op) for path, item in spec["paths"].items()
                for method, op in item.items() if method == "post" and "201" in op["responses"]]
    assert len(creating) >= 12
    for path, op in creating:
        names = {(p["in"], p["name"]) for p in op.get("parameters", [])}
        if path == "/api/v1/tokens":  # its answer holds the secret, which is never stored
            assert ("header", "Idempotency-Key") not in names
            continue
        assert ("header", "Idempotency-Key") in names, path
        assert "422" in op["responses"], path


def test_erasing_a_citizen_drops_the_answers_kept_in_its_collaboration(client, db, space):
    url = f"/api/v1/collaborations/{space.collab.id}/citizens"
    created = client.post(url, json={"pseudonym": "Citizen A", "name": "Anna Jensen"},
                          headers=with_key(space.as_coordinator, "citizen-a"))
    assert created.status_code == 201 and count(db, IdempotencyKey) == 1
    erased = client.post(f"{url}/{created.get_json()['id']}/erase",
                         headers=space.as_coordinator)
    assert erased.status_code == 200, erased.get_json()
    assert count(db, IdempotencyKey) == 0


def test_beat_drops_expired_keys_of_every_user(client, db, space):
    from coprod.api.tasks import forget_expired_keys

    for headers, key in ((space.as_staff, "a"), (space.as_coordinator, "b")):
        client.post(f"/api/v1/collaborations/{space.collab.id}/partners" if key == "b"
                    else reflections_url(space),
                    json={"name": "Café", "sector": "private"} if key == "b" else REFLECTION,
                    headers=with_key(headers, key))
    assert count(db, IdempotencyKey) == 2
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "a").values(
        created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    assert forget_expired_keys.run() == 1
    assert db.session.scalars(select(IdempotencyKey.key)).all() == ["b"]


# -- a replay is a read: through the policy, as the object is now ------------------------------

def test_a_replay_after_the_reflection_was_withdrawn_does_not_show_its_text(client, db, space):
    headers = with_key(space.as_staff, "withdrawn-later")
    first = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    assert first.status_code == 201
    withdrawn = client.post(f"{reflections_url(space)}/{first.get_json()['id']}/withdraw",
                            headers=space.as_staff)
    assert withdrawn.status_code == 200, withdrawn.get_json()
    again = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    assert REFLECTION["body"] not in again.get_data(as_text=True)
    assert again.status_code == 410 and again.get_json()["code"] == 410
    assert count(db, Reflection) == 1  # and the retry did not post it again


def test_a_replay_after_the_reply_was_withdrawn_does_not_show_its_text(client, db, space):
    reflection = client.post(reflections_url(space), json=REFLECTION,
                             headers=space.as_staff).get_json()
    replies = f"{reflections_url(space)}/{reflection['id']}/replies"
    headers = with_key(space.as_coordinator, "reply-withdrawn-later")
    first = client.post(replies, json={"body": "Call the café first"}, headers=headers)
    assert first.status_code == 201
    assert client.post(f"{replies}/{first.get_json()['id']}/withdraw",
                       headers=space.as_coordinator).status_code == 200
    again = client.post(replies, json={"body": "Call the café first"}, headers=headers)
    assert "Call the café first" not in again.get_data(as_text=True)
    assert again.status_code == 410
    assert count(db, Reply) == 1


def test_a_replay_after_the_consent_was_withdrawn_does_not_show_the_note(client, db, bearer):
    """The café's note about a citizen, kept under its key: once the guardian withdraws the
    café's consent the note is not the café's to read, and neither is its kept answer."""
    from tests.citizens.conftest import build_world

    w = build_world(db)
    db.session.commit()
    cafe, coordinator = bearer(w.cafe_staff), bearer(w.coordinator)
    url = f"/api/v1/collaborations/{w.collaboration.id}"
    note = {**{k: v for k, v in REFLECTION.items() if k != "body"},
            "body": "Anna starts on Mondays", "visibility": "organization",
            "citizen_id": w.citizen.id, "category_ids": [w.preferences.id]}
    headers = with_key(cafe, "about-anna")
    first = client.post(f"{url}/reflections", json=note, headers=headers)
    assert first.status_code == 201, first.get_json()
    withdrawn = client.post(f"{url}/citizens/{w.citizen.id}/consents/{w.consent.id}/withdraw",
                            json={"partner_id": w.cafe.id}, headers=coordinator)
    assert withdrawn.status_code == 201, withdrawn.get_json()
    again = client.post(f"{url}/reflections", json=note, headers=headers)
    assert "Anna starts on Mondays" not in again.get_data(as_text=True)
    assert again.status_code == 410


def test_a_replay_of_what_is_still_there_answers_the_first_answer(client, db, space):
    headers = with_key(space.as_staff, "still-there")
    first = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    again = client.post(reflections_url(space), json=REFLECTION, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    stored = db.session.scalar(select(IdempotencyKey))
    assert (stored.subject_type, stored.subject_id) == ("Reflection", first.get_json()["id"])
