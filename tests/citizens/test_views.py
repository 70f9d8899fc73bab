"""The staff pages of citizens and consent: who sees a citizen at all, who sees the name, and
how coordinators record, change and withdraw consents and erase a citizen through the forms."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.citizens.models import AuditEvent, Citizen, Consent, ConsentStatus
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from tests.factories import CollaborationFactory, PartnerFactory, member

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _url(world, rest=""):
    return f"/c/{world.collaboration.id}/citizens{rest}"


def _field(page: str, name: str) -> str:
    """The HTML of one form field's block (label, input, error), by the field's id."""
    match = re.search(rf'<div class="field[^"]*">(?:(?!<div class="field).)*?id="{name}"'
                      rf'(?:(?!<div class="field).)*', page)
    assert match, f"no field {name}"
    return match.group(0)


@pytest.fixture
def browser(new_client):
    """A browser logged in as `user`: browser(user) -> client."""
    from tests.factories import PASSWORD

    def _browser(user):
        client = new_client()
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
        return client

    return _browser


@pytest.fixture
def coordinator(login, client, world):
    assert login(world.coordinator).status_code == 302
    return client


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _consent_data(world, **overrides):
    data = {"partners": [world.jobcentre.id], "categories": [world.support.id],
            "purpose": "Support at work", "starts_on": date.today().isoformat(),
            "ends_on": "", "given_by": "citizen", "given_by_name": "", "method": "in_person"}
    return {**data, **overrides}


# -- the record -----------------------------------------------------------------------------

def test_a_coordinator_adds_a_citizen_through_the_form(db, world, coordinator):
    form = _text(coordinator.get(_url(world, "/new")))
    assert "1. Find a workplace" in form and "2. Volunteering" in form
    response = coordinator.post(_url(world, "/new"), data={
        "pseudonym": "Citizen B", "name": "Bo Berg", "details": "Prefers mornings",
        "activities": [world.volunteering.id], "user_email": "",
        "guardian_emails": world.guardian.email.upper()})
    assert response.status_code == 302
    citizen = db.session.scalar(select(Citizen).where(Citizen.pseudonym == "Citizen B"))
    assert citizen.name == "Bo Berg" and citizen.guardian_ids == {world.guardian.id}
    assert [a.id for a in citizen.activities] == [world.volunteering.id]
    page = _text(coordinator.get(response.headers["Location"]))
    assert "The citizen “Citizen B” is recorded." in page
    assert "Bo Berg" in page and "Prefers mornings" in page
    assert "<strong>Animal shelter</strong>: performs “2. Volunteering”." in page


def test_an_unknown_email_and_a_taken_pseudonym_are_shown_next_to_their_field(
        db, world, coordinator):
    response = coordinator.post(_url(world, "/new"), data={
        "pseudonym": "Citizen C", "name": "Cai Carlsen", "activities": [world.workplace.id],
        "user_email": "nobody@example.org"})
    page = _text(response)
    assert response.status_code == 422
    assert "No user account has the email address “nobody@example.org”." in _field(
        page, "user_email")
    assert 'value="Cai Carlsen"' in page and "checked" in _field(page, "activities")
    response = coordinator.post(_url(world, "/new"), data={
        "pseudonym": "citizen a", "name": "Cai Carlsen", "activities": [world.workplace.id]})
    page = _text(response)
    assert response.status_code == 422
    assert "Another citizen of this collaboration has this pseudonym." in _field(
        page, "pseudonym")
    assert 'value="Cai Carlsen"' in page
    assert _count(db, Citizen) == 1


def test_a_coordinator_edits_the_record(db, world, coordinator):
    form = _text(coordinator.get(_url(world, f"/{world.citizen.id}/edit")))
    assert 'value="Anna Jensen"' in form and world.guardian.email in form
    response = coordinator.post(_url(world, f"/{world.citizen.id}/edit"), data={
        "pseudonym": "Citizen A", "name": "Anna Jensen-Holm", "details": "",
        "activities": [world.workplace.id, world.volunteering.id],
        "user_email": world.citizen_user.email, "guardian_emails": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert world.citizen.name == "Anna Jensen-Holm" and world.citizen.guardian_ids == set()
    assert world.citizen.user_id == world.citizen_user.id


# -- who sees what --------------------------------------------------------------------------

def test_partners_without_a_need_to_know_neither_list_nor_open_the_citizen(world, browser):
    shelter = browser(world.shelter_staff)
    listing = _text(shelter.get(_url(world)))
    assert 'aria-current="page">Citizens' in listing
    assert "Citizen A" not in listing and "Anna" not in listing
    assert "Add a citizen" not in listing
    assert shelter.get(_url(world, f"/{world.citizen.id}")).status_code == 404
    assert shelter.get(_url(world, f"/{world.citizen.id}/consents/new")).status_code == 404


def test_cafe_staff_with_need_and_consent_see_the_name(world, browser):
    cafe = browser(world.cafe_staff)
    listing = _text(cafe.get(_url(world)))
    assert "Citizen A" in listing and "Anna Jensen" in listing
    page = _text(cafe.get(_url(world, f"/{world.citizen.id}")))
    assert "Anna Jensen" in page and "Likes animals" in page
    assert "<strong>Café</strong>: performs “1. Find a workplace”; receives Work preferences " \
           "from Job centre at “1. Find a workplace”. May know now: Contact details, Work " \
           "preferences." in page
    assert "Audit log" not in page and "Erase" not in page
    assert cafe.get(_url(world, f"/{world.citizen.id}/edit")).status_code == 403
    assert cafe.get(_url(world, f"/{world.citizen.id}/erase")).status_code == 403


def test_staff_with_a_need_but_no_consent_see_only_the_pseudonym(db, world, browser):
    citizens.withdraw_consent(actor_for(world.guardian), world.consent, partner_id=world.cafe.id)
    db.session.commit()
    cafe = browser(world.cafe_staff)
    listing = _text(cafe.get(_url(world)))
    assert "Citizen A" in listing and "Anna" not in listing
    page = _text(cafe.get(_url(world, f"/{world.citizen.id}")))
    assert "Anna" not in page and "Likes animals" not in page
    assert "The name and details are not shown to you" in page


def test_the_navigation_shows_citizens_only_to_those_who_may_list_them(db, world, browser):
    observer = member(world.collaboration, Role.OBSERVER, display_name="Olga Observer").user
    db.session.commit()
    client = browser(observer)
    overview = _text(client.get(f"/c/{world.collaboration.id}"))
    assert f'href="/c/{world.collaboration.id}/citizens"' not in overview
    assert client.get(_url(world)).status_code == 403
    assert f'href="/c/{world.collaboration.id}/citizens"' in _text(
        browser(world.case_worker).get(f"/c/{world.collaboration.id}"))


# -- consent --------------------------------------------------------------------------------

def test_record_change_and_withdraw_a_consent_on_the_citizens_behalf(db, world, coordinator,
                                                                     browser):
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, citizen=world.citizen.id,
        categories=[world.preferences.id], body="Anna wants café hours",
        visibility=Visibility.PARTNERS, audience=[world.cafe.id], **NOTE)
    db.session.commit()
    cafe = browser(world.cafe_staff)
    note_url = f"/c/{world.collaboration.id}/reflections/{note.id}"
    assert cafe.get(note_url).status_code == 200

    response = coordinator.post(_url(world, f"/{world.citizen.id}/consents/new"),
                                data=_consent_data(world))
    assert response.status_code == 302
    recorded = db.session.scalar(select(Consent).where(Consent.purpose == "Support at work"))
    assert [c.name for c in recorded.categories] == ["Support needs"]

    change_url = _url(world, f"/{world.citizen.id}/consents/new?replaces={world.consent.id}")
    form = _text(coordinator.get(change_url))
    assert "Finding meaningful work" in form
    assert f'value="{world.cafe.id}" checked' in form
    response = coordinator.post(_url(world, f"/{world.citizen.id}/consents/new"), data={
        **_consent_data(world, partners=[world.jobcentre.id, world.cafe.id],
                        categories=[world.contact.id, world.preferences.id],
                        purpose="Finding meaningful work, for a year",
                        ends_on=date(date.today().year + 1, 12, 31).isoformat(),
                        given_by="guardian", given_by_name="Guardian", method="paper"),
        "replaces": world.consent.id})
    assert response.status_code == 302
    changed = db.session.scalar(select(Consent).where(Consent.replaces_id == world.consent.id))
    page = _text(coordinator.get(_url(world, f"/{world.citizen.id}")))
    history = page[page.index("Consent history"):]
    assert f"Consent {changed.id}: Given</strong> · replaces consent {world.consent.id}" \
        in history
    assert f"Consent {world.consent.id}: Given</strong> · <span class=\"badge\">replaced by " \
           f"consent {changed.id}</span>" in history
    assert "Finding meaningful work, for a year" in history
    assert f"until Dec 31, {date.today().year + 1}" in history

    prefix = f"withdraw-{changed.id}"
    response = coordinator.post(_url(world, f"/{world.citizen.id}/consents/{changed.id}"
                                            "/withdraw"), data={
        f"{prefix}-partner": world.cafe.id, f"{prefix}-given_by": "guardian",
        f"{prefix}-given_by_name": "Guardian", f"{prefix}-method": "paper"})
    assert response.status_code == 302
    latest = db.session.scalar(select(Consent).where(Consent.replaces_id == changed.id))
    assert latest.status == ConsentStatus.PERMIT
    assert [p.id for p in latest.partners] == [world.jobcentre.id]
    assert cafe.get(note_url).status_code == 404

    # The replaced record again: someone changed it meanwhile.
    response = coordinator.post(_url(world, f"/{world.citizen.id}/consents/{changed.id}"
                                            "/withdraw"), data={
        f"{prefix}-partner": "", f"{prefix}-given_by": "citizen", f"{prefix}-method": "paper"})
    assert response.status_code == 409
    assert "This consent has been changed or withdrawn meanwhile" in _text(response)
    assert _count(db, Consent) == 4


def test_bad_consent_input_stays_in_the_form_next_to_its_field(db, world, coordinator):
    url = _url(world, f"/{world.citizen.id}/consents/new")
    response = coordinator.post(url, data=_consent_data(
        world, partners=[], purpose="Kept purpose", given_by="guardian"))
    page = _text(response)
    assert response.status_code == 422
    assert "Name at least one partner organization." in page
    assert "Kept purpose" in page
    response = coordinator.post(url, data=_consent_data(
        world, starts_on="2030-05-02", ends_on="2030-05-01"))
    assert response.status_code == 422
    assert "The end date must not be before the start date." in _field(_text(response),
                                                                      "ends_on")
    response = coordinator.post(url, data=_consent_data(
        world, given_by="guardian", given_by_name=""))
    assert response.status_code == 422
    assert "This field is required." in _field(_text(response), "given_by_name")
    assert _count(db, Consent) == 1


def test_a_withdrawal_needs_its_giver(db, world, coordinator):
    prefix = f"withdraw-{world.consent.id}"
    response = coordinator.post(_url(world, f"/{world.citizen.id}/consents/{world.consent.id}"
                                            "/withdraw"), data={
        f"{prefix}-partner": "", f"{prefix}-given_by": "guardian", f"{prefix}-method": "paper"})
    assert response.status_code == 422
    assert "This field is required." in _field(_text(response), f"{prefix}-given_by_name")
    assert _count(db, Consent) == 1


def test_the_audit_log_lists_a_consent_change_with_the_organization(db, world, coordinator):
    citizens.withdraw_consent(actor_for(world.case_worker), world.consent,
                              partner_id=world.cafe.id, given_by="citizen", method="in_person")
    db.session.commit()
    page = _text(coordinator.get(_url(world, f"/{world.citizen.id}")))
    audit = page[page.index("Audit log"):]
    latest = db.session.scalar(select(Consent).where(Consent.replaces_id == world.consent.id))
    row = re.search(r"<tr>.*?</tr>", audit[audit.index("<tbody>"):]).group(0)
    assert "Case worker" in row and "Job centre" in row
    assert f"Consent withdrawn: consent {latest.id}" in row
    assert "Citizen recorded: citizen record" in audit


# -- erasure --------------------------------------------------------------------------------

def test_erasure_needs_the_typed_pseudonym_and_keeps_consents_and_audit(db, world,
                                                                        coordinator, browser):
    erase_url = _url(world, f"/{world.citizen.id}/erase")
    page = _text(coordinator.get(erase_url))
    assert "the consent history and the audit are kept" in page
    response = coordinator.post(erase_url, data={"confirm": "Citizen B"})
    assert response.status_code == 422
    assert "Type the pseudonym exactly as shown to confirm." in _field(_text(response),
                                                                      "confirm")
    db.session.expire_all()
    assert world.citizen.name == "Anna Jensen"

    response = coordinator.post(erase_url, data={"confirm": "Citizen A"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(_url(world))
    listing = _text(coordinator.get(_url(world)))
    assert "The citizen is erased." in listing
    assert "Anna" not in listing and "erased</span>" in listing
    db.session.expire_all()
    assert world.citizen.name is None
    page = _text(coordinator.get(_url(world, f"/{world.citizen.id}")))
    assert "Anna" not in page and "Citizen A" not in page
    assert f"Consent {world.consent.id}: Given</strong>" in page
    assert "Citizen erased: citizen record" in page
    assert coordinator.post(erase_url, data={"confirm": world.citizen.pseudonym}
                            ).status_code == 403
    cafe = browser(world.cafe_staff)
    assert "[erased]" not in _text(cafe.get(_url(world)))
    assert cafe.get(_url(world, f"/{world.citizen.id}")).status_code == 404


# -- no change on GET, no other collaboration -----------------------------------------------

def test_get_never_changes_anything(db, world, coordinator):
    counts = [_count(db, m) for m in (Citizen, Consent, AuditEvent)]
    base = _url(world, f"/{world.citizen.id}")
    for url in (_url(world), _url(world, "/new"), base, f"{base}/edit", f"{base}/erase",
                f"{base}/consents/new", f"{base}/consents/new?replaces={world.consent.id}"):
        assert coordinator.get(url).status_code == 200, url
    assert coordinator.get(f"{base}/consents/{world.consent.id}/withdraw").status_code == 405
    assert [_count(db, m) for m in (Citizen, Consent, AuditEvent)] == counts
    db.session.expire_all()
    assert world.citizen.name == "Anna Jensen"


def test_a_citizen_or_consent_of_another_collaboration_answers_404(db, world, coordinator):
    elsewhere = CollaborationFactory(title="Elsewhere")
    PartnerFactory(collaboration=elsewhere)
    boss = member(elsewhere, Role.COORDINATOR).user
    db.session.flush()
    stranger = citizens.create_citizen(actor_for(boss), elsewhere, pseudonym="Citizen Z",
                                       name="Zeta")
    db.session.commit()
    here = _url(world, f"/{stranger.id}")
    for url in (here, f"{here}/edit", f"{here}/erase", f"{here}/consents/new"):
        assert coordinator.get(url).status_code == 404, url
    assert coordinator.get(f"/c/{elsewhere.id}/citizens/{stranger.id}").status_code == 404
    assert coordinator.get(f"/c/{elsewhere.id}/citizens").status_code == 404
    assert "Citizen Z" not in _text(coordinator.get(_url(world)))
    other = citizens.create_citizen(actor_for(world.coordinator), world.collaboration,
                                    pseudonym="Citizen B", name="Bo")
    db.session.commit()
    # A consent of one citizen under another citizen's URL.
    assert coordinator.post(_url(world, f"/{other.id}/consents/{world.consent.id}/withdraw"),
                            data={}).status_code == 404
    assert coordinator.get(_url(world, f"/{other.id}/consents/new?replaces="
                                       f"{world.consent.id}")).status_code == 404
