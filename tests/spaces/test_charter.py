"""The charter: its four questions, editing with a guard against lost updates, its history."""

from __future__ import annotations

from coprod import policy
from coprod.extensions import db as _db
from coprod.spaces import operations
from coprod.spaces.models import Charter
from tests.spaces.pages import error_of, page, text_of_page

ANSWERS = {
    "why": "People on disability pension find meaningful work.",
    "resources": "The job centre matches; the café employs.",
    "assets": "A shared calendar and the community centre.",
    "routines": "We meet every month.",
}


def _charter(space) -> Charter:
    charter = _db.session.get(Charter, space.collab.id)
    _db.session.refresh(charter)
    return charter


def test_members_read_the_four_questions(client, sign_in, space):
    sign_in(space.people.citizen.user)
    response = client.get(f"/c/{space.collab.id}/charter")
    assert response.status_code == 200
    text = text_of_page(response)
    for question in ("Why do we collaborate?", "Which complementary resources bind us, and how?",
                     "Which digital tools and meeting places do we share?",
                     "How do we keep our knowledge-sharing routines?"):
        assert question in text
    assert "Nobody has written the charter yet." in text
    assert "Edit the charter" not in text


def test_coordinator_edits_and_the_history_shows_who_when_what(client, sign_in, space, db):
    coordinator = space.people.coordinator.user
    sign_in(coordinator)
    cid = space.collab.id
    form = client.get(f"/c/{cid}/charter/edit")
    assert form.status_code == 200
    assert 'name="base_version" type="hidden" value="0"' in page(form)
    response = client.post(f"/c/{cid}/charter/edit", data={**ANSWERS, "base_version": "0"})
    assert response.status_code == 302
    charter_page = client.get(f"/c/{cid}/charter")
    text = text_of_page(charter_page)
    assert ANSWERS["why"] in text
    assert "Last edited by Cora Coordinator on" in text

    second = {**ANSWERS, "routines": "We meet every week at the café."}
    assert client.post(f"/c/{cid}/charter/edit",
                       data={**second, "base_version": "1"}).status_code == 302
    assert _charter(space).version == 2

    history = client.get(f"/c/{cid}/charter/history")
    assert history.status_code == 200
    body = page(history)
    text = text_of_page(history)
    assert text.index("Version 2") < text.index("Version 1")
    assert text.count("Saved by Cora Coordinator on") == 2
    version_2 = body[body.index('id="version-2"'):body.index('id="version-1"')]
    # Version 2 changed only the routines, and says how.
    assert "How do we keep our knowledge-sharing routines?" in version_2
    assert "Why do we collaborate?" not in version_2
    assert "<del><span class=\"visually-hidden\">removed: </span>month.</del>" in version_2
    assert "week at the café." in version_2 and "<ins>" in version_2
    # Version 1 shows every answer as added.
    version_1 = body[body.index('id="version-1"'):]
    assert version_1.count("<ins>") == 4


def test_a_stale_save_keeps_the_typed_text_and_explains(client, sign_in, space, db):
    coordinator = space.people.coordinator.user
    cid = space.collab.id
    # Someone else saves while our coordinator is still typing on version 0.
    other = space.people.coordinator
    operations.update_charter(policy.actor_for(other.user), space.collab.charter,
                              **{**ANSWERS, "why": "Saved meanwhile by a colleague."})
    db.session.commit()
    sign_in(coordinator)
    mine = {**ANSWERS, "why": "My own careful wording."}
    response = client.post(f"/c/{cid}/charter/edit", data={**mine, "base_version": "0"})
    assert response.status_code == 409
    body = page(response)
    assert "Someone else saved the charter while you were editing." in body
    assert "My own careful wording." in body
    assert "Saved meanwhile by a colleague." in body
    # Saving again from this form replaces the version shown beside it.
    assert 'name="base_version" type="hidden" value="1"' in body
    assert _charter(space).why == "Saved meanwhile by a colleague."
    again = client.post(f"/c/{cid}/charter/edit", data={**mine, "base_version": "1"})
    assert again.status_code == 302
    assert _charter(space).why == "My own careful wording."


def test_a_tampered_base_version_is_a_form_error(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/charter/edit",
                           data={**ANSWERS, "base_version": "yesterday"})
    assert response.status_code == 422
    assert "The form is incomplete. Reload the page and try again." in page(response)
    assert ANSWERS["why"] in page(response)


def test_an_overlong_answer_is_refused_next_to_its_field(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/charter/edit",
                           data={**ANSWERS, "assets": "x" * 20001, "base_version": "0"})
    assert response.status_code == 422
    assert error_of(response, "assets")


def test_partner_staff_may_read_but_not_edit(client, sign_in, space):
    sign_in(space.people.staff_a.user)
    cid = space.collab.id
    assert client.get(f"/c/{cid}/charter").status_code == 200
    assert client.get(f"/c/{cid}/charter/history").status_code == 200
    assert client.get(f"/c/{cid}/charter/edit").status_code == 403
    response = client.post(f"/c/{cid}/charter/edit", data={**ANSWERS, "base_version": "0"})
    assert response.status_code == 403
    assert _charter(space).version == 0
