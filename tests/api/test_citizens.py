"""Citizens, consents and the audit in the API, and content about a citizen: who sees the
citizen and their identity, who changes them, the consent history, withdrawal acting on the
next request, posting refused for an audience that lacks consent, the citizen's own routes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.citizens.models import AuditAction, AuditEvent, Channel, Citizen, Consent
from coprod.policy import actor_for
from coprod.spaces.models import CollaborationStatus
from tests.citizens.conftest import build_world
from tests.factories import UserFactory, member

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


@pytest.fixture(name="w")
def world_fixture(db, bearer):
    """The citizens test world (tests/citizens/conftest.py), with a second citizen in the
    shelter's "Volunteering" for whom no consent was given, an observer, and tokens."""
    world = build_world(db)
    world.observer = member(world.collaboration, Role.OBSERVER).user
    world.stranger = UserFactory()
    world.volunteer = citizens.create_citizen(
        actor_for(world.coordinator), world.collaboration, pseudonym="Citizen B",
        name="Bo Berg", activity_ids=[world.volunteering.id])
    db.session.commit()
    world.h = SimpleNamespace(**{name: bearer(getattr(world, name)) for name in (
        "coordinator", "lone_coordinator", "case_worker", "cafe_staff", "shelter_staff",
        "guardian", "citizen_user", "observer", "stranger")})
    return world


def url(w, tail=""):
    return f"/api/v1/collaborations/{w.collaboration.id}{tail}"


def citizen_url(w, tail="", citizen=None):
    return url(w, f"/citizens/{(citizen or w.citizen).id}{tail}")


def by_pseudonym(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return {item["pseudonym"]: item for item in response.get_json()["items"]}


def post_note(client, w, headers=None, **fields):
    """The case worker's note about the citizen, for the café (through the API)."""
    body = {**NOTE, "body": "Citizen A wants café hours", "visibility": "partners",
            "audience": [w.cafe.id], "citizen_id": w.citizen.id,
            "category_ids": [w.preferences.id], **fields}
    return client.post(url(w, "/reflections"), json=body, headers=headers or w.h.case_worker)


# -- reading citizens -----------------------------------------------------------------------

def test_the_list_shows_pseudonyms_and_identity_only_where_allowed(client, db, w):
    seen = by_pseudonym(client.get(url(w, "/citizens"), headers=w.h.coordinator))
    assert set(seen) == {"Citizen A", "Citizen B"}
    assert seen["Citizen A"]["name"] == "Anna Jensen"
    assert seen["Citizen A"]["details"] == "Likes animals"
    assert seen["Citizen A"]["guardians"] == [{"id": w.guardian.id, "display_name": "Guardian"}]
    assert seen["Citizen A"]["activities"] == [{"id": w.workplace.id,
                                                "name": "Find a workplace"}]

    # the café has a need to know and a consent: pseudonym and identity
    cafe = by_pseudonym(client.get(url(w, "/citizens"), headers=w.h.cafe_staff))
    assert set(cafe) == {"Citizen A"} and cafe["Citizen A"]["name"] == "Anna Jensen"

    # the shelter needs to know of citizen B, but nobody consented: the pseudonym only
    shelter = by_pseudonym(client.get(url(w, "/citizens"), headers=w.h.shelter_staff))
    assert set(shelter) == {"Citizen B"}
    assert shelter["Citizen B"]["name"] is None and shelter["Citizen B"]["details"] is None
    assert shelter["Citizen B"]["guardians"] is None and shelter["Citizen B"]["user"] is None


def test_one_citizen_with_and_without_identity(client, db, w):
    response = client.get(citizen_url(w), headers=w.h.cafe_staff)
    assert response.status_code == 200
    assert response.get_json()["name"] == "Anna Jensen"
    assert response.get_json()["user"] == {"id": w.citizen_user.id,
                                           "display_name": "Citizen user"}
    anonymous = client.get(citizen_url(w, citizen=w.volunteer), headers=w.h.shelter_staff)
    assert anonymous.status_code == 200
    assert anonymous.get_json()["pseudonym"] == "Citizen B"
    assert anonymous.get_json()["name"] is None


def test_staff_without_a_need_to_know_get_404(client, db, w):
    for tail in ("", "/consents", "/audit"):
        response = client.get(citizen_url(w, tail), headers=w.h.shelter_staff)
        assert response.status_code == 404, tail
        assert response.get_json()["code"] == 404
    assert client.get(citizen_url(w), headers=w.h.stranger).status_code == 404


def test_observers_may_not_list_citizens(client, db, w):
    assert client.get(url(w, "/citizens"), headers=w.h.observer).status_code == 403
    assert client.get(url(w, "/citizens"), headers=w.h.stranger).status_code == 404


# -- writing citizens -----------------------------------------------------------------------

def test_a_coordinator_records_a_citizen_and_staff_may_not(client, db, w):
    body = {"pseudonym": "Citizen C", "name": "Carl Dahl", "details": "Prefers mornings",
            "activity_ids": [w.workplace.id], "guardian_ids": [w.guardian.id]}
    refused = client.post(url(w, "/citizens"), json=body, headers=w.h.case_worker)
    assert refused.status_code == 403
    assert db.session.scalar(select(Citizen).where(Citizen.pseudonym == "Citizen C")) is None

    created = client.post(url(w, "/citizens"), json=body, headers=w.h.coordinator)
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert (data["pseudonym"], data["name"], data["details"]) == (
        "Citizen C", "Carl Dahl", "Prefers mornings")
    assert [a["id"] for a in data["activities"]] == [w.workplace.id]
    events = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.citizen_id == data["id"])).all()
    assert events == [AuditAction.CITIZEN_CREATED]


def test_creating_a_citizen_validates_its_fields(client, db, w):
    missing = client.post(url(w, "/citizens"), json={"name": "X"}, headers=w.h.coordinator)
    assert missing.status_code == 422
    assert "pseudonym" in missing.get_json()["errors"]["json"]
    taken = client.post(url(w, "/citizens"), json={"pseudonym": "citizen a", "name": "X"},
                        headers=w.h.coordinator)
    assert taken.status_code == 422
    assert taken.get_json()["field"] == "pseudonym"
    elsewhere = client.post(url(w, "/citizens"), headers=w.h.coordinator, json={
        "pseudonym": "Citizen D", "name": "X", "activity_ids": [999999]})
    assert elsewhere.status_code == 422 and elsewhere.get_json()["field"] == "activities"


def test_patch_changes_only_what_is_sent(client, db, w):
    assert client.patch(citizen_url(w), json={"name": "Taken over"},
                        headers=w.h.cafe_staff).status_code == 403
    response = client.patch(citizen_url(w), json={"details": "Likes dogs"},
                            headers=w.h.coordinator)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert (data["pseudonym"], data["name"], data["details"]) == (
        "Citizen A", "Anna Jensen", "Likes dogs")
    assert [g["id"] for g in data["guardians"]] == [w.guardian.id]
    assert data["user"]["id"] == w.citizen_user.id
    assert [a["id"] for a in data["activities"]] == [w.workplace.id]



def test_an_account_that_does_not_exist_is_refused_naming_the_field(client, db, w):
    """PATCH and POST with a user_id of no account: 422 naming "user", never the 500 of a
    citizen flushed pointing at it (Schemathesis found it)."""
    nobody = w.stranger.id + 1000
    patched = client.patch(citizen_url(w), json={"user_id": nobody}, headers=w.h.coordinator)
    assert patched.status_code == 422, patched.get_json()
    assert patched.get_json()["field"] == "user"
    created = client.post(url(w, "/citizens"), headers=w.h.coordinator, json={
        "pseudonym": "Citizen D", "name": "X", "user_id": nobody})
    assert created.status_code == 422 and created.get_json()["field"] == "user"
    db.session.rollback()
    assert db.session.get(Citizen, w.citizen.id).user_id == w.citizen_user.id


# -- consents -------------------------------------------------------------------------------

def test_consent_change_and_withdrawal_keep_the_whole_history(client, db, w):
    first = w.consent.id
    change = client.post(citizen_url(w, "/consents"), headers=w.h.coordinator, json={
        "partner_ids": [w.jobcentre.id, w.cafe.id],
        "category_ids": [w.contact.id, w.preferences.id, w.support.id],
        "purpose": "Finding meaningful work", "replaces_id": first,
        "given_by": "guardian", "given_by_name": "Guardian", "method": "paper"})
    assert change.status_code == 201, change.get_json()
    changed = change.get_json()
    assert (changed["status"], changed["replaces_id"], changed["replaced_by_id"],
            changed["in_force"]) == ("permit", first, None, True)
    assert {c["name"] for c in changed["categories"]} == {
        "Contact details", "Work preferences", "Support needs"}
    assert changed["recorded_by"]["id"] == w.coordinator.id

    # the café only: a new permitting record for the job centre
    only_cafe = client.post(citizen_url(w, f"/consents/{changed['id']}/withdraw"),
                            json={"partner_id": w.cafe.id}, headers=w.h.guardian)
    assert only_cafe.status_code == 201, only_cafe.get_json()
    kept = only_cafe.get_json()
    assert kept["status"] == "permit" and kept["replaces_id"] == changed["id"]
    assert [p["id"] for p in kept["partners"]] == [w.jobcentre.id]
    assert (kept["given_by"], kept["given_by_name"], kept["method"]) == (
        "guardian", "Guardian", "online")

    # the earlier record was replaced meanwhile
    again = client.post(citizen_url(w, f"/consents/{changed['id']}/withdraw"),
                        json={}, headers=w.h.coordinator)
    assert again.status_code == 409 and again.get_json()["field"] == "consent"

    everything = client.post(citizen_url(w, f"/consents/{kept['id']}/withdraw"),
                             headers=w.h.case_worker)
    assert everything.status_code == 201, everything.get_json()
    assert everything.get_json()["status"] == "withdrawn"
    assert everything.get_json()["in_force"] is False

    history = client.get(citizen_url(w, "/consents"), headers=w.h.cafe_staff).get_json()
    assert history["total"] == 4
    assert [c["id"] for c in history["items"]] == [
        everything.get_json()["id"], kept["id"], changed["id"], first]
    replaced_by = {c["id"]: c["replaced_by_id"] for c in history["items"]}
    assert replaced_by == {first: changed["id"], changed["id"]: kept["id"],
                           kept["id"]: everything.get_json()["id"],
                           everything.get_json()["id"]: None}
    assert not any(c["in_force"] for c in history["items"])
    assert db.session.scalar(select(Consent).where(Consent.id == first)).status.value == "permit"


def test_consents_are_refused_to_those_who_may_not_record_them(client, db, w):
    body = {"partner_ids": [w.shelter.id], "category_ids": [w.contact.id], "purpose": "More"}
    for headers in (w.h.shelter_staff, w.h.observer, w.h.stranger):
        assert client.post(citizen_url(w, "/consents"), json=body,
                           headers=headers).status_code == 404
        assert client.post(citizen_url(w, f"/consents/{w.consent.id}/withdraw"),
                           headers=headers).status_code == 404
    unknown = client.post(citizen_url(w, "/consents"), headers=w.h.coordinator,
                          json={**body, "replaces_id": 999999})
    assert unknown.status_code == 422 and unknown.get_json()["field"] == "replaces_id"
    no_dates = client.post(citizen_url(w, "/consents"), headers=w.h.coordinator,
                           json={**body, "starts_on": "2030-05-02", "ends_on": "2030-05-01"})
    assert no_dates.status_code == 422 and no_dates.get_json()["field"] == "ends_on"
    assert db.session.scalar(select(Consent).where(Consent.id != w.consent.id)) is None


def test_an_archived_space_takes_no_new_consent_but_a_withdrawal(client, db, w):
    w.collaboration.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    body = {"partner_ids": [w.cafe.id], "category_ids": [w.contact.id], "purpose": "More"}
    refused = client.post(citizen_url(w, "/consents"), json=body, headers=w.h.coordinator)
    assert refused.status_code == 403 and refused.get_json()["code"] == 403
    withdrawn = client.post(citizen_url(w, f"/consents/{w.consent.id}/withdraw"),
                            headers=w.h.citizen_user)
    assert withdrawn.status_code == 201
    assert (withdrawn.get_json()["given_by"], withdrawn.get_json()["method"]) == (
        "citizen", "online")


def test_a_consent_of_another_citizen_is_not_found_under_this_one(client, db, w):
    other = citizens.give_consent(
        actor_for(w.coordinator), w.volunteer, partner_ids=[w.shelter.id],
        category_ids=[w.contact.id], purpose="Volunteering")
    db.session.commit()
    response = client.post(citizen_url(w, f"/consents/{other.id}/withdraw"),
                           headers=w.h.coordinator)
    assert response.status_code == 404


# -- content about the citizen --------------------------------------------------------------

def test_withdrawal_hides_the_note_from_the_cafe_on_the_next_request(client, db, w):
    posted = post_note(client, w)
    assert posted.status_code == 201, posted.get_json()
    note = posted.get_json()
    assert note["citizen"] == {"id": w.citizen.id, "pseudonym": "Citizen A"}
    assert note["categories"] == [{"id": w.preferences.id, "name": "Work preferences"}]

    feed = client.get(url(w, "/reflections"), headers=w.h.cafe_staff).get_json()["items"]
    assert [(r["id"], r["citizen"]["id"]) for r in feed] == [(note["id"], w.citizen.id)]
    detail = client.get(url(w, f"/reflections/{note['id']}"), headers=w.h.cafe_staff)
    assert detail.status_code == 200 and detail.get_json()["body"] == note["body"]
    assert client.get(url(w, "/reflections"),
                      headers=w.h.shelter_staff).get_json()["items"] == []

    withdrawn = client.post(citizen_url(w, f"/consents/{w.consent.id}/withdraw"),
                            json={"partner_id": w.cafe.id}, headers=w.h.guardian)
    assert withdrawn.status_code == 201

    assert client.get(url(w, "/reflections"), headers=w.h.cafe_staff).get_json()["items"] == []
    assert client.get(url(w, f"/reflections/{note['id']}"),
                      headers=w.h.cafe_staff).status_code == 404
    assert client.get(url(w, f"/reflections/{note['id']}/replies"),
                      headers=w.h.cafe_staff).status_code == 404
    # the job centre still has its consent
    mine = client.get(url(w, "/reflections"), headers=w.h.case_worker).get_json()["items"]
    assert [r["id"] for r in mine] == [note["id"]]


def test_a_note_for_an_audience_lacking_consent_is_refused_naming_the_partners(client, db, w):
    refused = post_note(client, w, visibility="collaboration", audience=[])
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["field"] == "audience"
    assert body["lacking_partner_ids"] == [w.shelter.id]
    assert "Animal shelter" in body["message"]
    assert client.get(url(w, "/reflections"), headers=w.h.case_worker).get_json()["items"] == []

    # narrowed to the café, it is accepted
    assert post_note(client, w).status_code == 201


def test_replies_and_messages_about_the_citizen(client, db, w):
    note = post_note(client, w).get_json()
    reply = client.post(url(w, f"/reflections/{note['id']}/replies"), headers=w.h.cafe_staff,
                        json={"body": "Mornings suit her", "citizen_id": w.citizen.id,
                              "category_ids": [w.preferences.id]})
    assert reply.status_code == 201, reply.get_json()
    assert reply.get_json()["citizen"]["pseudonym"] == "Citizen A"
    replies = client.get(url(w, f"/reflections/{note['id']}/replies"),
                         headers=w.h.case_worker).get_json()["items"]
    assert [(r["citizen"]["id"], r["categories"][0]["id"]) for r in replies] == [
        (w.citizen.id, w.preferences.id)]

    to_shelter = client.post(url(w, "/conversations"), headers=w.h.case_worker, json={
        "participant_ids": [w.shelter_staff.id], "body": "About Citizen A",
        "citizen_id": w.citizen.id, "category_ids": [w.contact.id]})
    assert to_shelter.status_code == 422
    assert to_shelter.get_json()["lacking_partner_ids"] == [w.shelter.id]

    to_cafe = client.post(url(w, "/conversations"), headers=w.h.case_worker, json={
        "participant_ids": [w.cafe_staff.id], "body": "About Citizen A",
        "citizen_id": w.citizen.id, "category_ids": [w.contact.id]})
    assert to_cafe.status_code == 201, to_cafe.get_json()
    last = to_cafe.get_json()["last_message"]
    assert last["citizen"]["id"] == w.citizen.id
    assert last["categories"] == [{"id": w.contact.id, "name": "Contact details"}]
    plain = client.post(url(w, f"/conversations/{to_cafe.get_json()['id']}/messages"),
                        json={"body": "Thanks"}, headers=w.h.cafe_staff)
    assert plain.status_code == 201
    assert plain.get_json()["citizen"] is None and plain.get_json()["categories"] == []


# -- audit and the citizen's own routes -------------------------------------------------------

def test_the_audit_shows_who_read_the_note(client, db, w):
    note = post_note(client, w).get_json()
    assert client.get(url(w, f"/reflections/{note['id']}"),
                      headers=w.h.cafe_staff).status_code == 200
    assert client.get(citizen_url(w, "/audit"), headers=w.h.case_worker).status_code == 403

    events = client.get(citizen_url(w, "/audit"), headers=w.h.coordinator).get_json()["items"]
    read = [e for e in events if e["action"] == "read"]
    assert [(e["object_type"], e["object_id"], e["channel"], e["partner"]["name"],
             e["user"]["id"]) for e in read] == [
        ("reflection", note["id"], "api", "Café", w.cafe_staff.id)]
    assert events[-1]["action"] == "citizen_created"

    # the guardian sees which organization read, not who
    mine = client.get(citizen_url(w, "/audit"), headers=w.h.guardian)
    assert mine.status_code == 200
    read = [e for e in mine.get_json()["items"] if e["action"] == "read"]
    assert [(e["partner"]["name"], e["user"]) for e in read] == [("Café", None)]


def test_me_citizens_lists_the_citizens_of_the_guardian_and_the_citizen(client, db, w):
    for headers in (w.h.guardian, w.h.citizen_user):
        page = client.get("/api/v1/me/citizens", headers=headers).get_json()
        assert page["total"] == 1
        [item] = page["items"]
        assert (item["id"], item["name"], item["collaboration"]) == (
            w.citizen.id, "Anna Jensen", {"id": w.collaboration.id, "title": "Meaningful work"})
    assert client.get("/api/v1/me/citizens", headers=w.h.coordinator).get_json()["items"] == []
    # not a member, yet the guardian reads the record and its consents through the policy
    assert client.get(citizen_url(w), headers=w.h.guardian).status_code == 200
    assert client.get(citizen_url(w, "/consents"), headers=w.h.guardian).get_json()["total"] == 1
    assert client.get(url(w, "/citizens"), headers=w.h.guardian).status_code == 404


def test_the_export_holds_everything_and_is_audited(client, db, w):
    note = post_note(client, w).get_json()
    response = client.get(f"/api/v1/me/citizens/{w.citizen.id}/export", headers=w.h.guardian)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["collaboration"] == {"id": w.collaboration.id, "title": "Meaningful work"}
    assert (data["citizen"]["pseudonym"], data["citizen"]["name"]) == ("Citizen A",
                                                                       "Anna Jensen")
    assert [c["id"] for c in data["consents"]] == [w.consent.id]
    assert data["consents"][0]["organizations"] == ["Job centre", "Café"]
    [content] = data["content"]
    assert (content["type"], content["id"], content["text"], content["organization"],
            content["categories"]) == ("reflection", note["id"], "Citizen A wants café hours",
                                       "Job centre", ["Work preferences"])
    assert data["other_events"][0]["action"] == "downloaded"
    downloaded = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.DOWNLOADED)).all()
    assert [(e.user_id, e.citizen_id, e.channel) for e in downloaded] == [
        (w.guardian.id, w.citizen.id, Channel.EXPORT)]

    for headers in (w.h.coordinator, w.h.cafe_staff, w.h.stranger):
        assert client.get(f"/api/v1/me/citizens/{w.citizen.id}/export",
                          headers=headers).status_code == 404


def test_erasure_de_identifies_and_keeps_consents(client, db, w):
    note = post_note(client, w).get_json()
    assert client.post(citizen_url(w, "/erase"), headers=w.h.case_worker).status_code == 403
    response = client.post(citizen_url(w, "/erase"), headers=w.h.coordinator)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert data["pseudonym"] == f"[erased] {w.citizen.id}"
    assert data["name"] is None and data["erased_at"] is not None
    assert data["guardians"] is None and data["activities"] == []

    assert client.post(citizen_url(w, "/erase"), headers=w.h.coordinator).status_code == 403
    assert client.patch(citizen_url(w), json={"name": "Back"},
                        headers=w.h.coordinator).status_code == 403
    # the note stays, de-identified, and no longer about anyone
    detail = client.get(url(w, f"/reflections/{note['id']}"), headers=w.h.cafe_staff).get_json()
    assert detail["body"] == "[erased] wants café hours"
    assert detail["citizen"] is None and detail["categories"] == []
    assert client.get("/api/v1/me/citizens", headers=w.h.guardian).get_json()["items"] == []
    history = client.get(citizen_url(w, "/consents"), headers=w.h.coordinator).get_json()
    assert [c["id"] for c in history["items"]] == [w.consent.id]
    audit = client.get(citizen_url(w, "/audit"), headers=w.h.coordinator).get_json()
    assert audit["items"][0]["action"] == "citizen_erased"
