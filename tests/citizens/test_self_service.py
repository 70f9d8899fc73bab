"""The citizen's own page: who may see their information and why, one-click withdrawal that the
café feels on its next request, the access log, and the download of everything recorded."""

from __future__ import annotations

import html
import json
import re
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_time
from sqlalchemy import func, select

from coprod.citizens import operations as citizens
from coprod.citizens.models import (
    AuditAction,
    AuditEvent,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from tests.factories import PASSWORD

NOTE_TEXT = "Anna would like two mornings a week in the café kitchen."
NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


def _text(response) -> str:
    """The page as a reader sees it: entities decoded, tags and runs of space collapsed."""
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(plain))


def _section(response, section_id: str) -> str:
    """The text of one section of the page, by its heading's id."""
    page = response.get_data(as_text=True)
    match = re.search(rf'<section aria-labelledby="{section_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {section_id}"
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))))


@pytest.fixture
def browser(new_client):
    """Another browser, logged in as `user`: browser(user) -> client."""
    def _browser(user):
        client = new_client()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}
                           ).status_code == 302
        return client
    return _browser


def _page_url(world, rest=""):
    return f"/my/information/{world.citizen.id}{rest}"


def _withdraw_url(world, consent=None):
    return _page_url(world, f"/consents/{(consent or world.consent).id}/withdraw")


def _post_note(db, world):
    """The case worker writes a note about the citizen for the café."""
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, citizen=world.citizen.id,
        categories=[world.preferences.id], visibility=Visibility.PARTNERS,
        audience=[world.cafe.id], body=NOTE_TEXT, **NOTE)
    db.session.commit()
    return note


def _note_url(world, note):
    return f"/c/{world.collaboration.id}/reflections/{note.id}"


def test_the_guardian_sees_who_may_see_what_and_why(db, world, login, client):
    login(world.guardian)
    home = client.get("/")
    assert "My information" in _text(home)  # the header and the home page link to the page
    listing = client.get("/my/information")
    assert listing.status_code == 302 and listing.location.endswith(_page_url(world))

    response = client.get(_page_url(world))
    assert response.status_code == 200
    text = _text(response)
    assert "Information about Anna Jensen" in text
    assert "“Meaningful work”" in text
    may_see = _section(response, "may-see")
    assert "Consent for: Finding meaningful work" in may_see
    assert "It covers this information: Contact details, Work preferences." in may_see
    assert "Job centre may see this information." in may_see
    assert "Café may see this information." in may_see
    assert "Why it needs to know: It does “Find a workplace” in your service." in may_see
    assert ("It gets work preferences from Job centre for “Find a workplace”."
            in may_see)  # the café also receives a flow
    assert "Withdraw for Café" in may_see and "Withdraw for Job centre" in may_see
    assert "Withdraw all of this consent" in may_see
    assert "Animal shelter" not in may_see
    assert _section(response, "may-not-see") == (
        " Who cannot see your information These organizations cannot see your information: "
        "Animal shelter cannot see your information. ")
    history = _section(response, "history")
    assert "Consent given" in history
    assert "By: Guardian (a guardian). How: On paper. Written down by Coordinator." in history
    assert "Nobody has looked at information about you yet." in _section(response, "access-log")
    assert "Download everything recorded about you (JSON)" in text


def test_withdrawing_for_the_cafe_hides_the_note_from_the_cafe_at_once(
        db, world, login, client, browser):
    note = _post_note(db, world)
    cafe = browser(world.cafe_staff)
    feed_url = f"/c/{world.collaboration.id}/reflections"
    assert cafe.get(_note_url(world, note)).status_code == 200
    assert NOTE_TEXT in _text(cafe.get(feed_url))

    login(world.guardian)
    response = client.post(_withdraw_url(world), data={"partner_id": world.cafe.id})
    assert response.status_code == 302 and response.location.endswith(_page_url(world))

    record = db.session.scalar(select(Consent).where(Consent.replaces_id == world.consent.id))
    assert record.status == ConsentStatus.PERMIT
    assert [p.id for p in record.partners] == [world.jobcentre.id]
    assert record.method == ConsentMethod.ONLINE
    assert record.given_by == ConsentGiver.GUARDIAN
    assert record.given_by_user_id == world.guardian.id

    page = client.get(_page_url(world))
    assert "Café can no longer see your information under this consent." in _text(page)
    history = _section(page, "history")
    assert history.index("Consent changed") < history.index("Consent given")  # newest first
    assert "By: You. How: Online." in history
    assert "No longer: Café." in history
    assert "Withdraw for Café" not in _section(page, "may-see")
    assert "Café cannot see your information." in _section(page, "may-not-see")

    assert cafe.get(_note_url(world, note)).status_code == 404
    assert NOTE_TEXT not in _text(cafe.get(feed_url))
    case_worker = browser(world.case_worker)
    assert case_worker.get(_note_url(world, note)).status_code == 200  # the job centre still may


def test_the_citizen_sees_the_guardians_withdrawal_by_name(db, world, login, client):
    citizens.withdraw_consent(actor_for(world.guardian), world.consent)
    db.session.commit()
    login(world.citizen_user)
    page = client.get(_page_url(world))
    history = _section(page, "history")
    assert "Consent withdrawn" in history
    assert "By: Guardian (a guardian). How: Online." in history
    assert "It was for: Job centre, Café." in history
    assert "You have no consent now." in _section(page, "may-see")
    assert "You see this page because you are a guardian" not in _text(page)


def test_withdrawing_all_of_a_consent(db, world, login, client):
    login(world.citizen_user)
    response = client.post(_withdraw_url(world), follow_redirects=True)
    assert "You withdrew this consent." in _text(response)
    record = db.session.scalar(select(Consent).where(Consent.replaces_id == world.consent.id))
    assert record.status == ConsentStatus.WITHDRAWN
    assert record.given_by == ConsentGiver.CITIZEN and record.method == ConsentMethod.ONLINE


def test_a_get_of_the_withdraw_address_changes_nothing(db, world, login, client):
    login(world.guardian)
    assert client.get(_withdraw_url(world)).status_code == 405
    assert client.get(f"{_withdraw_url(world)}?partner_id={world.cafe.id}").status_code == 405
    assert db.session.scalar(select(func.count(Consent.id))) == 1


def test_a_consent_already_replaced_is_explained_not_a_500(db, world, login, client):
    login(world.guardian)
    assert client.post(_withdraw_url(world), data={"partner_id": world.cafe.id}
                       ).status_code == 302
    again = client.post(_withdraw_url(world), data={"partner_id": world.cafe.id})
    assert again.status_code == 409
    assert "changed or withdrawn meanwhile" in _text(again)
    assert db.session.scalar(select(func.count(Consent.id))) == 2


def test_an_organization_the_consent_does_not_name_is_refused(db, world, login, client):
    login(world.guardian)
    assert client.post(_withdraw_url(world), data={"partner_id": world.shelter.id}
                       ).status_code == 404
    assert db.session.scalar(select(func.count(Consent.id))) == 1


@pytest.mark.parametrize("who", ["coordinator", "lone_coordinator", "case_worker",
                                 "cafe_staff", "shelter_staff"])
def test_anyone_else_gets_404(db, world, browser, who):
    other = browser(getattr(world, who))
    assert other.get(_page_url(world)).status_code == 404
    assert other.get(_page_url(world, "/download.json")).status_code == 404
    assert other.post(_withdraw_url(world)).status_code == 404
    assert db.session.scalar(select(func.count(Consent.id))) == 1
    assert "No information about you" in _text(other.get("/my/information"))
    assert "My information" not in _text(other.get("/"))


def test_a_guardian_of_another_citizen_gets_404_for_this_one(db, world, browser):
    other = citizens.create_citizen(
        actor_for(world.coordinator), world.collaboration, pseudonym="Citizen B",
        name="Bo Lund", guardian_ids=[world.cafe_staff.id])
    db.session.commit()
    cafe = browser(world.cafe_staff)
    assert cafe.get(f"/my/information/{other.id}").status_code == 200
    assert cafe.get(_page_url(world)).status_code == 404
    assert cafe.post(f"/my/information/{other.id}/consents/{world.consent.id}/withdraw"
                     ).status_code == 404  # a consent of another citizen under this one's URL
    assert db.session.scalar(select(func.count(Consent.id))) == 1


def test_a_guardian_of_two_chooses_on_the_list(db, world, login, client):
    citizens.create_citizen(actor_for(world.coordinator), world.collaboration,
                            pseudonym="Citizen B", name="Bo Lund", guardian_ids=[world.guardian.id])
    db.session.commit()
    login(world.guardian)
    listing = client.get("/my/information")
    assert listing.status_code == 200
    text = _text(listing)
    assert "Information about Anna Jensen" in text and "Information about Bo Lund" in text
    assert "In the collaboration “Meaningful work”." in text


def test_the_access_log_names_the_organization_that_looked(db, world, login, client, browser):
    world.guardian.timezone = "America/New_York"
    note = _post_note(db, world)
    assert browser(world.cafe_staff).get(_note_url(world, note)).status_code == 200
    read = db.session.scalar(select(AuditEvent).where(AuditEvent.action == AuditAction.READ))
    assert read is not None and read.partner_id == world.cafe.id

    login(world.guardian)
    log = _section(client.get(_page_url(world)), "access-log")
    local = read.at.astimezone(ZoneInfo("America/New_York"))
    when = (f"{format_date(local, 'medium', locale='en')}, "
            f"{format_time(local, 'short', locale='en')}")  # the one format: no seconds
    when = re.sub(r"\s+", " ", when)  # as _section collapses it (CLDR puts U+202F before AM)
    assert f"{when} Café A note Web page" in log
    assert "Café staff" not in log  # the organization, not the staff member


def test_the_download_holds_everything_and_is_audited(db, world, login, client, browser):
    note = _post_note(db, world)
    assert browser(world.cafe_staff).get(_note_url(world, note)).status_code == 200
    login(world.guardian)
    client.post(_withdraw_url(world), data={"partner_id": world.cafe.id})

    response = client.get(_page_url(world, "/download.json"))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["collaboration"]["title"] == "Meaningful work"
    assert data["citizen"]["name"] == "Anna Jensen"
    assert data["citizen"]["pseudonym"] == "Citizen A"
    assert data["citizen"]["details"] == "Likes animals"
    assert [a["activity"] for a in data["citizen"]["service"]] == ["Find a workplace"]
    first, change = data["consents"]
    assert first["organizations"] == ["Job centre", "Café"]
    assert first["categories"] == ["Contact details", "Work preferences"]
    assert first["method"] == "paper" and first["purpose"] == "Finding meaningful work"
    assert change["replaces"] == first["id"] and change["method"] == "online"
    assert change["given_by"] == "guardian" and change["organizations"] == ["Job centre"]
    [content] = data["content"]
    assert content["text"] == NOTE_TEXT and content["type"] == "reflection"
    assert content["organization"] == "Job centre"
    assert content["categories"] == ["Work preferences"]
    assert [(e["organization"], e["what"]) for e in data["access_log"]] == [
        ("Café", "reflection")]
    actions = {e["action"] for e in data["other_events"]}
    assert {"citizen_created", "consent_given", "consent_withdrawn", "downloaded"} <= actions

    downloads = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == AuditAction.DOWNLOADED)).all()
    assert [(d.user_id, d.citizen_id) for d in downloads] == [(world.guardian.id,
                                                                world.citizen.id)]
