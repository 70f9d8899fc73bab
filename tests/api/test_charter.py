"""The charter: read it, save a version (409 if someone saved first), read its history."""

from __future__ import annotations

from coprod.spaces.models import Charter

ANSWERS = {"why": "Meaningful work for people on disability pension.",
           "resources": "Workplaces, case work, community centres.",
           "assets": "A shared calendar; the café on Tuesdays.",
           "routines": "A monthly meeting and a weekly reflection prompt."}


def _url(space, tail=""):
    return f"/api/v1/collaborations/{space.collab.id}/charter{tail}"


def test_members_read_the_charter(client, db, space):
    response = client.get(_url(space), headers=space.as_observer)
    assert response.status_code == 200
    body = response.get_json()
    assert body == {"collaboration_id": space.collab.id, "why": "", "resources": "",
                    "assets": "", "routines": "", "version": 0, "updated_at": None,
                    "updated_by": None}


def test_coordinator_saves_a_version_and_the_history_shows_who(client, db, space):
    response = client.put(_url(space), json={**ANSWERS, "base_version": 0},
                          headers=space.as_coordinator)
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == 1 and body["why"] == ANSWERS["why"]
    assert body["updated_by"] == {"id": space.coordinator.user.id,
                                  "display_name": space.coordinator.user.display_name}
    client.put(_url(space), json={**ANSWERS, "why": "To learn together.", "base_version": 1},
               headers=space.as_coordinator)

    history = client.get(_url(space, "/history"), headers=space.as_staff).get_json()
    assert [r["version"] for r in history["items"]] == [2, 1]
    assert [r["why"] for r in history["items"]] == ["To learn together.", ANSWERS["why"]]
    assert history["items"][0]["edited_by"]["id"] == space.coordinator.user.id
    assert history["total"] == 2

    page = client.get(_url(space, "/history?page=2&page_size=1"),
                      headers=space.as_staff).get_json()
    assert [r["version"] for r in page["items"]] == [1]


def test_stale_base_version_is_409_and_keeps_the_newer_text(client, db, space):
    client.put(_url(space), json={**ANSWERS, "base_version": 0}, headers=space.as_coordinator)
    response = client.put(_url(space), json={**ANSWERS, "why": "Overwrite!", "base_version": 0},
                          headers=space.as_coordinator)
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == 409 and body["status"] == "Conflict"
    assert "saved" in body["message"]
    db.session.expire_all()
    charter = db.session.get(Charter, space.collab.id)
    assert (charter.version, charter.why) == (1, ANSWERS["why"])


def test_observer_may_not_edit_the_charter(client, db, space):
    response = client.put(_url(space), json={**ANSWERS, "base_version": 0},
                          headers=space.as_observer)
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Charter, space.collab.id).version == 0


def test_put_needs_every_answer_and_the_base_version(client, db, space):
    response = client.put(_url(space), json={"why": "Only this"}, headers=space.as_coordinator)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {
        "resources", "assets", "routines", "base_version"}


def test_base_version_must_be_a_number(client, db, space):
    response = client.put(_url(space), json={**ANSWERS, "base_version": "latest"},
                          headers=space.as_coordinator)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["base_version"]
