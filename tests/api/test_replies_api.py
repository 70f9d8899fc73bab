"""Replies in the API: a thread under a reflection, with the reflection's readers; edits,
withdrawal, mentions, and the refusals (withdrawn reflection, other collaboration, bad input)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.extensions import db as _db
from coprod.reflections import operations
from coprod.reflections.models import BODY_MAX, Mention, Reply
from tests.api.test_reflections import post, world_fixture  # noqa: F401


def replies_url(w, reflection, tail=""):
    return (f"/api/v1/collaborations/{reflection.collaboration_id}/reflections/"
            f"{reflection.id}/replies{tail}")


def answer(seat, reflection, body="Same at our place", **kwargs) -> Reply:
    made = operations.reply(policy.actor_for(seat.user), reflection, body, **kwargs)
    _db.session.commit()
    return made


def test_reply_then_answer_the_reply_and_read_the_thread(client, db, world):
    w = world
    r = post(w.a1)
    first = client.post(replies_url(w, r), headers=w.h["b1"], json={
        "body": "We *see* it too, @Anna", "mentions": [w.a1.user_id]})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["reflection_id"] == r.id and body["parent_id"] is None
    assert body["author"] == {"id": w.b1.user_id, "display_name": "Bo Café"}
    assert body["partner"] == {"id": w.b.id, "name": "Café Lotte"}
    assert body["body_html"] == "<p>We <em>see</em> it too, @Anna</p>\n"
    assert body["mentions"] == [{"id": w.a1.user_id, "display_name": "Anna Jobcentre"}]
    assert body["created_at"].endswith("+00:00") and body["withdrawn_at"] is None
    assert db.session.scalar(select(Mention.user_id).where(Mention.reply_id == body["id"])) \
        == w.a1.user_id

    second = client.post(replies_url(w, r), headers=w.h["a1"],
                         json={"body": "Thanks!", "parent_id": body["id"]})
    assert second.status_code == 201
    assert second.get_json()["parent_id"] == body["id"]

    thread = client.get(replies_url(w, r), headers=w.h["c1"]).get_json()
    assert thread["total"] == 2 and thread["page"] == 1
    assert [(i["body"], i["parent_id"]) for i in thread["items"]] == [
        ("We *see* it too, @Anna", None), ("Thanks!", body["id"])]
    one = client.get(replies_url(w, r, f"/{body['id']}"), headers=w.h["c1"])
    assert one.status_code == 200 and one.get_json() == thread["items"][0]
    feed = client.get(f"/api/v1/collaborations/{w.collab.id}/reflections",
                      headers=w.h["c1"]).get_json()
    assert feed["items"][0]["reply_count"] == 2


def test_replies_are_paged_like_the_other_lists(client, db, world):
    w = world
    r = post(w.a1)
    for i in range(5):
        answer(w.b1, r, f"Reply {i}")
    page = client.get(replies_url(w, r, "?page=2&page_size=2"), headers=w.h["a1"]).get_json()
    assert page["total"] == 5 and page["total_pages"] == 3
    assert [i["body"] for i in page["items"]] == ["Reply 2", "Reply 3"]


def test_replies_have_the_reflections_readers(client, db, world):
    w = world
    r = post(w.a1, visibility="organization")
    reply = answer(w.a2, r, "Inside the job centre")
    for who, status in (("a1", 200), ("a2", 200), ("b1", 404), ("coord", 404), ("obs", 404)):
        assert client.get(replies_url(w, r), headers=w.h[who]).status_code == status, who
        assert client.get(replies_url(w, r, f"/{reply.id}"),
                          headers=w.h[who]).status_code == status, who
    response = client.post(replies_url(w, r), headers=w.h["b1"], json={"body": "Let me in"})
    assert response.status_code == 404


def test_the_author_edits_and_withdraws_a_reply(client, db, world):
    w = world
    r = post(w.a1)
    reply = answer(w.b1, r, "First try")
    edited = client.patch(replies_url(w, r, f"/{reply.id}"), headers=w.h["b1"],
                          json={"body": "Second try"})
    assert edited.status_code == 200
    assert edited.get_json()["body"] == "Second try"
    assert edited.get_json()["edited_at"] is not None
    for who in ("a1", "coord"):  # neither the reflection's author nor a coordinator edits it
        response = client.patch(replies_url(w, r, f"/{reply.id}"), headers=w.h[who],
                                json={"body": "Changed"})
        assert response.status_code == 403, who

    gone = client.post(replies_url(w, r, f"/{reply.id}/withdraw"), headers=w.h["b1"])
    assert gone.status_code == 200
    assert gone.get_json()["body"] == "" and gone.get_json()["body_html"] == ""
    assert gone.get_json()["withdrawn_at"] is not None
    again = client.patch(replies_url(w, r, f"/{reply.id}"), headers=w.h["b1"],
                         json={"body": "Back again"})
    assert again.status_code == 409
    assert again.get_json()["message"] == "This reply was withdrawn."
    db.session.expire_all()
    assert db.session.get(Reply, reply.id).body == ""


def test_a_coordinator_withdraws_someone_elses_reply_but_others_cannot(client, db, world):
    w = world
    r = post(w.a1)
    reply = answer(w.b1, r, "Off topic")
    for who in ("a1", "c1", "obs"):
        response = client.post(replies_url(w, r, f"/{reply.id}/withdraw"), headers=w.h[who])
        assert response.status_code == 403, who
    response = client.post(replies_url(w, r, f"/{reply.id}/withdraw"), headers=w.h["coord"])
    assert response.status_code == 200
    assert response.get_json()["withdrawn_at"] is not None


def test_a_withdrawn_reflection_takes_no_more_replies(client, db, world):
    w = world
    r = post(w.a1)
    operations.withdraw_reflection(policy.actor_for(w.a1.user), r)
    db.session.commit()
    response = client.post(replies_url(w, r), headers=w.h["b1"], json={"body": "Too late"})
    assert response.status_code == 409
    assert response.get_json()["message"] == (
        "This reflection was withdrawn: it takes no more replies.")
    assert db.session.scalar(select(Reply)) is None


def test_an_observer_reads_replies_but_does_not_reply(client, db, world):
    w = world
    r = post(w.a1)
    answer(w.b1, r)
    assert client.get(replies_url(w, r), headers=w.h["obs"]).get_json()["total"] == 1
    response = client.post(replies_url(w, r), headers=w.h["obs"], json={"body": "Me too"})
    assert response.status_code == 403
    assert db.session.scalar(select(Reply).where(Reply.author_id == w.obs.user_id)) is None


@pytest.mark.parametrize("payload,field", [
    ({}, "body"),
    ({"body": ""}, "body"),
    ({"body": "x" * (BODY_MAX + 1)}, "body"),
    ({"body": "Hi", "parent_id": "first"}, "parent_id"),
    ({"body": "Hi", "mentions": ["Anna"]}, "mentions"),
    ({"body": "Hi", "signature": "Bo"}, "signature"),
])
def test_invalid_replies_are_422_naming_the_field(client, db, world, payload, field):
    w = world
    r = post(w.a1)
    response = client.post(replies_url(w, r), headers=w.h["b1"], json=payload)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert db.session.scalar(select(Reply)) is None


def test_mentioning_a_member_who_cannot_read_it_is_refused(client, db, world):
    w = world
    r = post(w.a1, visibility="partners", audience=[w.b.id])
    response = client.post(replies_url(w, r), headers=w.h["b1"],
                           json={"body": "Cleo should know", "mentions": [w.c1.user_id]})
    assert response.status_code == 422
    assert response.get_json()["field"] == "mentions"
    assert db.session.scalar(select(Reply)) is None


def test_ids_of_another_reflection_or_collaboration_are_404(client, db, world):
    w = world
    r, other = post(w.a1), post(w.b1)
    reply_elsewhere = answer(w.a1, other)
    theirs = post(w.x1, collab=w.elsewhere)
    their_reply = answer(w.x1, theirs)
    # a parent under another reflection
    response = client.post(replies_url(w, r), headers=w.h["b1"],
                           json={"body": "Hi", "parent_id": reply_elsewhere.id})
    assert response.status_code == 404
    assert response.get_json()["field"] == "parent_id"
    # a reply of one reflection under another's URL, and another collaboration's reply
    for path in (replies_url(w, r, f"/{reply_elsewhere.id}"),
                 f"/api/v1/collaborations/{w.collab.id}/reflections/{theirs.id}/replies",
                 replies_url(w, theirs, f"/{their_reply.id}"),
                 f"/api/v1/collaborations/{w.collab.id}/reflections/{r.id}/replies/"
                 f"{their_reply.id}"):
        assert client.get(path, headers=w.h["b1"]).status_code == 404, path
        assert client.patch(path, headers=w.h["a1"], json={"body": "x"}).status_code in (
            404, 405), path
    assert client.post(replies_url(w, r, f"/{reply_elsewhere.id}/withdraw"),
                       headers=w.h["a1"]).status_code == 404
    db.session.expire_all()
    assert db.session.get(Reply, reply_elsewhere.id).withdrawn_at is None
    assert db.session.get(Reply, their_reply.id).body == "Same at our place"


def test_the_reply_list_runs_the_same_queries_for_2_and_20(client, db, world, count_queries):
    w = world
    r = post(w.a1)
    for i in range(20):
        seat = (w.a1, w.b1, w.c1)[i % 3]
        answer(seat, r, f"Reply {i}", mentions=[w.a2.user_id] if i % 2 else [])
    counts = {}
    paths = {size: replies_url(w, r, f"?page_size={size}") for size in (2, 20)}
    headers = w.h["a2"]
    for size, path in paths.items():
        with count_queries() as counter:
            assert len(client.get(path, headers=headers).get_json()["items"]) == size
        counts[size] = counter.count
    assert counts[2] == counts[20], counts
