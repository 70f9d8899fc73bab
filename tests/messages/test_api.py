"""/api/v1/collaborations/{id}/conversations: the same rules as the pages, in JSON."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from coprod.accounts.operations import create_token
from coprod.common import utcnow
from coprod.messages.models import MESSAGE_MAX, Conversation, Message
from coprod.spaces.models import CollaborationStatus
from tests.conftest import statements_run


@pytest.fixture
def bearer(db):
    """bearer(seat or user) -> headers with a new personal access token of that user."""

    def _bearer(seat_or_user) -> dict[str, str]:
        token, secret = create_token(getattr(seat_or_user, "user", seat_or_user), "tests")
        # As a script's token that is already in use: a token's first call records its use
        # (tests/api/test_auth.py), which the query counts of the tests here should not see.
        token.last_used_at = utcnow()
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return _bearer


def _base(space) -> str:
    return f"/api/v1/collaborations/{space.collab.id}/conversations"


def _messages(db) -> list[str]:
    return list(db.session.scalars(select(Message.body).order_by(Message.id)))


def test_start_a_conversation_and_read_it_as_the_other_participant(client, db, space,
                                                                   bearer):
    p = space.people
    response = client.post(_base(space), headers=bearer(p.jens), json={
        "participant_ids": [p.carla.user_id], "subject": "Mikkel", "body": "Hi *Carla*"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["subject"] == "Mikkel" and created["unread_count"] == 0
    assert {x["display_name"] for x in created["participants"]} == {
        "Jens Jobcentre", "Carla Cafe"}
    assert created["last_message"]["body"] == "Hi *Carla*"
    assert created["last_message"]["body_html"] == "<p>Hi <em>Carla</em></p>\n"

    as_carla = bearer(p.carla)
    listing = client.get(_base(space), headers=as_carla).get_json()
    assert listing["total"] == 1 and listing["items"][0]["unread_count"] == 1
    one = client.get(f"{_base(space)}/{created['id']}", headers=as_carla).get_json()
    assert one["unread_count"] == 1  # reading the item marks nothing

    reply = client.post(f"{_base(space)}/{created['id']}/messages", headers=as_carla,
                        json={"body": "Monday works"})
    assert reply.status_code == 201
    assert reply.get_json()["author"]["display_name"] == "Carla Cafe"
    messages = client.get(f"{_base(space)}/{created['id']}/messages", headers=as_carla)
    assert [m["body"] for m in messages.get_json()["items"]] == ["Monday works", "Hi *Carla*"]

    # her own reply moved her reading mark; Jens has one unread
    assert client.get(f"{_base(space)}/{created['id']}",
                      headers=as_carla).get_json()["unread_count"] == 0
    as_jens = bearer(p.jens)
    assert client.get(_base(space), headers=as_jens).get_json()["items"][0][
        "unread_count"] == 1
    read = client.post(f"{_base(space)}/{created['id']}/read", headers=as_jens)
    assert read.status_code == 200 and read.get_json()["unread_count"] == 0


def test_group_conversation_lists_every_participant(client, db, space, bearer):
    p = space.people
    response = client.post(_base(space), headers=bearer(p.coordinator), json={
        "participant_ids": [p.jens.user_id, p.carla.user_id, p.citizen.user_id],
        "body": "Meeting on Thursday?"})
    assert response.status_code == 201
    assert len(response.get_json()["participants"]) == 4
    for seat in (p.jens, p.carla, p.citizen):
        items = client.get(_base(space), headers=bearer(seat)).get_json()["items"]
        assert [c["unread_count"] for c in items] == [1]
    assert client.get(_base(space), headers=bearer(p.observer)).get_json()["items"] == []


@pytest.mark.parametrize("body,field", [
    ({"participant_ids": [], "body": "Hi"}, "participant_ids"),
    ({"participant_ids": [1], "body": ""}, "body"),
    ({"participant_ids": [1], "body": "   "}, "body"),
    ({"participant_ids": [1], "body": "x" * (MESSAGE_MAX + 1)}, "body"),
    ({"participant_ids": [1], "body": "Hi", "cc": [2]}, "cc"),
    ({"participant_ids": ["me"], "body": "Hi"}, "participant_ids"),
])
def test_invalid_bodies_answer_422_json(client, db, space, bearer, body, field):
    response = client.post(_base(space), headers=bearer(space.people.jens), json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert db.session.scalar(select(func.count(Conversation.id))) == 0


def test_a_participant_from_another_collaboration_answers_422(client, db, space, bearer):
    p = space.people
    response = client.post(_base(space), headers=bearer(p.jens), json={
        "participant_ids": [p.carla.user_id, space.outsider.user_id], "body": "Hi"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["field"] == "participants"
    assert body["message"] == "Choose members of this collaboration."
    assert db.session.scalar(select(func.count(Conversation.id))) == 0


def test_empty_or_overlong_reply_answers_422(client, db, space, bearer, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    url = f"{_base(space)}/{conversation.id}/messages"
    for body in ("", "x" * (MESSAGE_MAX + 1)):
        response = client.post(url, headers=bearer(p.carla), json={"body": body})
        assert response.status_code == 422
        assert "body" in response.get_json()["errors"]["json"]
    assert _messages(db) == ["Hello"]


@pytest.mark.parametrize("reader", ["coordinator", "observer", "outsider"])
def test_others_conversations_answer_404(client, db, space, bearer, converse, reader):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Between us")
    headers = bearer(space.outsider if reader == "outsider" else getattr(p, reader))
    url = f"{_base(space)}/{conversation.id}"
    for method, path, json in [("GET", "", None), ("GET", "/messages", None),
                               ("POST", "/messages", {"body": "Let me in"}),
                               ("POST", "/read", None), ("POST", "/leave", None),
                               ("POST", "/participants", {"participant_ids": [1]})]:
        response = client.open(url + path, method=method, json=json, headers=headers)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["code"] == 404
    listing = client.get(_base(space), headers=headers)
    if reader == "outsider":
        assert listing.status_code == 404
    else:
        assert listing.get_json()["items"] == []
    assert _messages(db) == ["Between us"]


def test_leaving_the_collaboration_ends_api_access_at_once(client, db, space, bearer,
                                                          converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    as_carla = bearer(p.carla)
    url = f"{_base(space)}/{conversation.id}"
    assert client.get(url, headers=as_carla).status_code == 200
    response = client.delete(f"/api/v1/collaborations/{space.collab.id}/members/{p.carla.id}",
                             headers=as_carla)
    assert response.status_code == 204
    write(p.jens, conversation, "Are you there?")
    assert client.get(url, headers=as_carla).status_code == 404
    assert client.get(url + "/messages", headers=as_carla).status_code == 404
    assert client.get(_base(space), headers=as_carla).status_code == 404


def test_posting_in_an_archived_space_answers_403(client, db, space, bearer, converse):
    p = space.people
    conversation = converse(space.collab, p.coordinator, [p.observer], "For the record")
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    as_observer = bearer(p.observer)
    url = f"{_base(space)}/{conversation.id}"
    assert client.get(url + "/messages", headers=as_observer).status_code == 200
    response = client.post(url + "/messages", headers=as_observer, json={"body": "Late"})
    assert response.status_code == 403 and response.get_json()["code"] == 403
    assert _messages(db) == ["For the record"]


def test_add_participants_and_leave(client, db, space, bearer, converse):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "Hello")
    url = f"{_base(space)}/{conversation.id}"
    response = client.post(url + "/participants", headers=bearer(p.carla),
                           json={"participant_ids": [p.citizen.user_id]})
    assert response.status_code == 200
    assert "Cit Izen" in {x["display_name"] for x in response.get_json()["participants"]}
    as_citizen = bearer(p.citizen)
    assert client.get(url, headers=as_citizen).get_json()["unread_count"] == 1
    assert client.post(url + "/leave", headers=as_citizen).status_code == 204
    assert client.get(url, headers=as_citizen).status_code == 404


def test_messages_are_paginated_newest_first(client, db, space, bearer, converse, write):
    p = space.people
    conversation = converse(space.collab, p.jens, [p.carla], "m0")
    for i in range(1, 5):
        write(p.jens, conversation, f"m{i}")
    headers = bearer(p.carla)
    url = f"{_base(space)}/{conversation.id}/messages"
    first = client.get(url + "?page_size=2", headers=headers).get_json()
    assert [m["body"] for m in first["items"]] == ["m4", "m3"]
    assert first["total"] == 5 and first["total_pages"] == 3
    last = client.get(url + "?page_size=2&page=3", headers=headers).get_json()
    assert [m["body"] for m in last["items"]] == ["m0"]
    assert client.get(url + "?page_size=1000", headers=headers).status_code == 422


def _count(db, client, url, headers) -> tuple[dict, int]:
    with statements_run(db) as run:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return response.get_json(), len(run)


def test_the_api_lists_run_as_many_queries_for_10_as_for_2(client, db, space, bearer,
                                                           crowd):
    base, collab_id = _base(space), space.collab.id
    carla_id, headers = space.people.carla.user_id, bearer(space.people.carla)
    counts = {}
    for n in (2, 10):
        last_id = crowd(collab_id, [carla_id], n)
        listing, counts[("list", n)] = _count(db, client, base + "?page_size=50", headers)
        assert [c["unread_count"] for c in listing["items"][:n]] == [n + 1] * n
        thread, counts[("messages", n)] = _count(
            db, client, f"{base}/{last_id}/messages?page_size=50", headers)
        assert len(thread["items"]) == n + 1
        assert {m["author"]["display_name"] for m in thread["items"]} == {f"Member {n}-{n - 1}"}
    assert counts[("list", 2)] == counts[("list", 10)]
    assert counts[("messages", 2)] == counts[("messages", 10)]
