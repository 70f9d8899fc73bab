"""Improvement actions in the API: an "improve" reflection becomes an action one partner owns;
its staff and the coordinators move it along; readers of the reflection see it, overdue or
done with "you said, we did"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.common import utcnow
from coprod.extensions import db as _db
from coprod.reflections import operations
from coprod.reflections.models import ActionStatus, ImprovementAction
from tests.api.test_reflections import post, world_fixture  # noqa: F401


def base(w, collab=None):
    return f"/api/v1/collaborations/{(collab or w.collab).id}"


def make_action(w, reflection, title="Phone before a handover", due_in_days=None, by=None):
    due = utcnow().date() + timedelta(days=due_in_days) if due_in_days is not None else None
    action = operations.create_action(policy.actor_for((by or w.coord).user), reflection,
                                      title=title, owner_partner_id=reflection.partner_id,
                                      due_on=due)
    _db.session.commit()
    return action


def test_an_improvement_becomes_an_action(client, db, world):
    w = world
    r = post(w.a1)
    due = (utcnow().date() + timedelta(days=14)).isoformat()
    response = client.post(f"{base(w)}/reflections/{r.id}/action", headers=w.h["coord"], json={
        "title": "  Phone the café before a handover ", "owner_partner_id": w.a.id,
        "owner_user_id": w.a2.user_id, "due_on": due})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["title"] == "Phone the café before a handover"
    assert body["owner_partner"] == {"id": w.a.id, "name": "Job centre"}
    assert body["owner_user"] == {"id": w.a2.user_id, "display_name": "Arne Jobcentre"}
    assert body["due_on"] == due and body["status"] == "open" and body["overdue"] is False
    assert body["reflection_id"] == r.id
    assert body["reflection_excerpt"] == "Handovers work when we phone first."
    assert body["done_note"] is None and body["done_at"] is None
    assert client.get(f"{base(w)}/actions/{body['id']}", headers=w.h["b1"]).get_json() == body
    item = client.get(f"{base(w)}/reflections/{r.id}", headers=w.h["b1"]).get_json()
    assert item["action"]["id"] == body["id"] and item["action"]["status"] == "open"


def test_staff_of_the_reflections_partner_may_make_it_an_action(client, db, world):
    w = world
    r = post(w.a1)
    payload = {"title": "Do better", "owner_partner_id": w.a.id}
    for who in ("b1", "obs"):
        response = client.post(f"{base(w)}/reflections/{r.id}/action", headers=w.h[who],
                               json=payload)
        assert response.status_code == 403, who
    response = client.post(f"{base(w)}/reflections/{r.id}/action", headers=w.h["a2"],
                           json=payload)
    assert response.status_code == 201


@pytest.mark.parametrize("setup,message", [
    ("works", "Only a reflection on what must improve becomes an action."),
    ("twice", "This reflection is already an improvement action."),
    ("withdrawn", "This reflection was withdrawn."),
])
def test_what_cannot_become_an_action_is_409_with_the_reason(client, db, world, setup,
                                                              message):
    w = world
    r = post(w.a1, kind="works" if setup == "works" else "improve")
    if setup == "twice":
        make_action(w, r)
    if setup == "withdrawn":
        operations.withdraw_reflection(policy.actor_for(w.a1.user), r)
        db.session.commit()
    response = client.post(f"{base(w)}/reflections/{r.id}/action", headers=w.h["coord"],
                           json={"title": "Again", "owner_partner_id": w.a.id})
    assert response.status_code == 409
    assert response.get_json()["message"] == message
    assert db.session.scalar(select(ImprovementAction).where(
        ImprovementAction.title == "Again")) is None


@pytest.mark.parametrize("payload,field", [
    ({"owner_partner_id": 1}, "title"),
    ({"title": "T"}, "owner_partner_id"),
    ({"title": "T", "owner_partner_id": "café"}, "owner_partner_id"),
    ({"title": "T", "owner_partner_id": 1, "due_on": "next week"}, "due_on"),
    ({"title": "x" * 201, "owner_partner_id": 1}, "title"),
    ({"title": "T", "owner_partner_id": 1, "status": "done"}, "status"),
])
def test_invalid_actions_are_422_naming_the_field(client, db, world, payload, field):
    w = world
    r = post(w.a1)
    response = client.post(f"{base(w)}/reflections/{r.id}/action", headers=w.h["coord"],
                           json=payload)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert db.session.scalar(select(ImprovementAction)) is None


def test_an_owner_outside_the_collaboration_or_partner_is_422(client, db, world):
    w = world
    r = post(w.a1)
    url = f"{base(w)}/reflections/{r.id}/action"
    response = client.post(url, headers=w.h["coord"],
                           json={"title": "T", "owner_partner_id": w.x.id})
    assert response.status_code == 422 and response.get_json()["field"] == "owner_partner_id"
    response = client.post(url, headers=w.h["coord"], json={
        "title": "T", "owner_partner_id": w.a.id, "owner_user_id": w.b1.user_id})
    assert response.status_code == 422 and response.get_json()["field"] == "owner_user_id"


def test_the_list_is_paged_soonest_due_first_and_flags_overdue(client, db, world):
    w = world
    later = make_action(w, post(w.a1, body="Later"), "Later", due_in_days=10)
    late = make_action(w, post(w.b1, body="Late"), "Late", due_in_days=-2)
    undated = make_action(w, post(w.c1, body="Undated"), "Undated")
    hidden = make_action(w, post(w.a1, body="Inside", visibility="organization"), "Inside",
                         by=w.a2)
    body = client.get(f"{base(w)}/actions", headers=w.h["b1"]).get_json()
    assert body["total"] == 3 and body["page"] == 1 and body["total_pages"] == 1
    assert [i["id"] for i in body["items"]] == [late.id, later.id, undated.id]
    assert [i["overdue"] for i in body["items"]] == [True, False, False]
    ids = [i["id"] for i in client.get(f"{base(w)}/actions", headers=w.h["a2"]).get_json()[
        "items"]]
    assert hidden.id in ids  # the job centre reads its own organization's action
    page = client.get(f"{base(w)}/actions?page=2&page_size=2", headers=w.h["b1"]).get_json()
    assert [i["id"] for i in page["items"]] == [undated.id]
    assert client.get(f"{base(w)}/actions/{hidden.id}", headers=w.h["b1"]).status_code == 404


def test_the_list_filters_by_status(client, db, world):
    w = world
    open_one = make_action(w, post(w.a1), "Open one")
    done = make_action(w, post(w.a1), "Done one")
    operations.update_action(policy.actor_for(w.coord.user), done, status=ActionStatus.DONE,
                             done_note="Done")
    db.session.commit()
    items = client.get(f"{base(w)}/actions?status=done", headers=w.h["c1"]).get_json()["items"]
    assert [i["id"] for i in items] == [done.id]
    items = client.get(f"{base(w)}/actions?status=open", headers=w.h["c1"]).get_json()["items"]
    assert [i["id"] for i in items] == [open_one.id]
    response = client.get(f"{base(w)}/actions?status=finished", headers=w.h["c1"])
    assert response.status_code == 422 and "status" in response.get_json()["errors"]["query"]


def test_done_needs_a_note_that_all_readers_see(client, db, world):
    w = world
    r = post(w.b1, body="The café never hears back")
    action = make_action(w, r, due_in_days=-1)
    url = f"{base(w)}/actions/{action.id}"
    response = client.patch(url, headers=w.h["b1"], json={"status": "done"})
    assert response.status_code == 422 and response.get_json()["field"] == "done_note"
    assert response.get_json()["message"] == (
        "Say what was done: the people who raised it will read it.")

    response = client.patch(url, headers=w.h["b1"], json={"status": "in_progress"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "in_progress" and body["overdue"] is True
    assert body["due_on"] == action.due_on.isoformat()  # left out: kept

    response = client.patch(url, headers=w.h["coord"], json={
        "status": "done", "done_note": "We now **call** the café <script>x</script>"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "done" and body["overdue"] is False and body["done_at"]
    assert "<strong>call</strong>" in body["done_note_html"]
    assert "<script" not in body["done_note_html"]
    for who in ("a1", "c1", "obs"):
        seen = client.get(url, headers=w.h[who]).get_json()
        assert seen["done_note"].startswith("We now **call** the café"), who


def test_patch_keeps_what_is_left_out_and_clears_with_null(client, db, world):
    w = world
    action = make_action(w, post(w.a1), due_in_days=5)
    url = f"{base(w)}/actions/{action.id}"
    body = client.patch(url, headers=w.h["a2"], json={"owner_user_id": w.a1.user_id}).get_json()
    assert body["owner_user"]["id"] == w.a1.user_id and body["due_on"] is not None
    body = client.patch(url, headers=w.h["a2"], json={"due_on": None, "title": "Renamed"}
                        ).get_json()
    assert body["due_on"] is None and body["title"] == "Renamed"
    assert body["owner_user"]["id"] == w.a1.user_id and body["status"] == "open"


@pytest.mark.parametrize("who", ["b1", "c1", "obs"])
def test_only_the_owning_partner_and_coordinators_move_an_action(client, db, world, who):
    w = world
    action = make_action(w, post(w.a1))
    response = client.patch(f"{base(w)}/actions/{action.id}", headers=w.h[who],
                            json={"status": "dropped"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(ImprovementAction, action.id).status == ActionStatus.OPEN


@pytest.mark.parametrize("payload,field", [
    ({"status": "finished"}, "status"),
    ({"due_on": "soon"}, "due_on"),
    ({"title": ""}, "title"),
    ({"priority": "high"}, "priority"),
])
def test_invalid_updates_are_422_naming_the_field(client, db, world, payload, field):
    w = world
    action = make_action(w, post(w.a1))
    response = client.patch(f"{base(w)}/actions/{action.id}", headers=w.h["coord"],
                            json=payload)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == [field]


def test_another_collaborations_actions_are_404(client, db, world):
    w = world
    theirs = post(w.x1, collab=w.elsewhere)
    their_action = operations.create_action(policy.actor_for(w.x1.user), theirs, title="T",
                                            owner_partner_id=w.x.id)
    db.session.commit()
    for path in (f"{base(w)}/actions/{their_action.id}",
                 f"{base(w, w.elsewhere)}/actions/{their_action.id}",
                 f"{base(w, w.elsewhere)}/actions"):
        assert client.get(path, headers=w.h["a1"]).status_code == 404, path
    assert client.patch(f"{base(w)}/actions/{their_action.id}", headers=w.h["coord"],
                        json={"status": "dropped"}).status_code == 404
    assert client.post(f"{base(w)}/reflections/{theirs.id}/action", headers=w.h["coord"],
                       json={"title": "T", "owner_partner_id": w.a.id}).status_code == 404
    db.session.expire_all()
    assert db.session.get(ImprovementAction, their_action.id).status == ActionStatus.OPEN


def test_the_action_list_runs_the_same_queries_for_2_and_20(client, db, world, count_queries):
    w = world
    for i in range(20):
        seat = (w.a1, w.b1, w.c1)[i % 3]
        make_action(w, post(seat, body=f"R{i}"), f"A{i}", due_in_days=i - 10)
    counts = {}
    for size in (2, 20):
        path = f"{base(w)}/actions?page_size={size}"
        with count_queries() as counter:
            assert len(client.get(path, headers=w.h["c1"]).get_json()["items"]) == size
        counts[size] = counter.count
    assert counts[2] == counts[20], counts
