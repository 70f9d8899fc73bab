"""The dashboard of my collaborations and starting a new one."""

from __future__ import annotations

import re

from sqlalchemy import select

from coprod.accounts.models import Role
from coprod.spaces.models import (
    Collaboration,
    CollaborationStatus,
    Membership,
    Organization,
    Partner,
    Sector,
)
from tests.factories import CollaborationFactory, MembershipFactory, UserFactory
from tests.spaces.pages import error_of, page, text_of_page

NEW = {
    "title": "Meaningful work", "purpose": "new_service", "remit_kind": "social_group",
    "remit": "People on disability pension", "description": "Work that means something.",
    "interdependence": "reciprocal", "timezone": "Europe/Copenhagen",
}


def test_dashboard_lists_only_my_collaborations(client, sign_in, space, db):
    me = space.people.staff_a.user
    archived = CollaborationFactory(title="Old pilot", status=CollaborationStatus.ARCHIVED)
    MembershipFactory(collaboration=archived, user=me, role=Role.OBSERVER)
    db.session.commit()
    sign_in(me)
    response = client.get("/")
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Meaningful work" in text
    assert "Somewhere else entirely" not in text
    assert "A new service" in text
    assert "A social group: People on disability pension" in text
    assert "My role Partner staff" in text
    # Archived ones come after the active ones, under their own heading.
    assert text.index("Meaningful work") < text.index("Archived") < text.index("Old pilot")
    assert "My role Observer" in text.split("Archived", 1)[1]


def test_a_new_user_sees_how_to_start(client, sign_in, db):
    user = UserFactory()
    db.session.commit()
    sign_in(user)
    text = text_of_page(client.get("/"))
    assert "You take part in no active collaboration yet." in text
    assert "Archived" not in text
    assert 'href="/collaborations/new"' in page(client.get("/"))


def test_dashboard_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_create_a_collaboration_and_become_its_coordinator(client, sign_in, db):
    user = UserFactory()
    db.session.commit()
    sign_in(user)
    form = client.get("/collaborations/new")
    assert form.status_code == 200
    # The time zone starts as the user's own.
    assert '<option selected value="Europe/Copenhagen">' in page(form)
    response = client.post("/collaborations/new", data={
        **NEW, "organization_name": "Job centre", "organization_sector": "public"})
    assert response.status_code == 302
    collab = db.session.scalar(select(Collaboration))
    assert response.headers["Location"].endswith(f"/c/{collab.id}")
    assert collab.title == "Meaningful work"
    assert collab.timezone == "Europe/Copenhagen"
    seat = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert seat.role == Role.COORDINATOR
    assert seat.partner.name == "Job centre"
    assert seat.partner.organization.sector == Sector.PUBLIC
    overview = client.get(response.headers["Location"])
    assert "Coordinator · on behalf of Job centre" in text_of_page(overview)
    assert "Meaningful work" in text_of_page(client.get("/"))


def test_create_with_an_organization_i_know(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    form = page(client.get("/collaborations/new"))
    assert "Café Solsikke" in form and "Other org" not in form
    response = client.post("/collaborations/new", data={
        **NEW, "title": "Second space", "organization_id": str(space.cafe.organization_id)})
    assert response.status_code == 302
    collab = db.session.scalar(select(Collaboration).where(Collaboration.title == "Second space"))
    partner = db.session.scalar(select(Partner).where(Partner.collaboration_id == collab.id))
    assert partner.organization_id == space.cafe.organization_id
    assert db.session.scalar(select(Organization).where(Organization.name == "Café Solsikke")
                             ).id == space.cafe.organization_id


def test_an_organization_i_do_not_know_is_refused(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    response = client.post("/collaborations/new", data={
        **NEW, "organization_id": str(space.other_partner.organization_id)})
    assert response.status_code == 422
    assert error_of(response, "organization_id")
    assert db.session.scalar(select(Collaboration).where(
        Collaboration.title == NEW["title"], Collaboration.id > space.elsewhere.id)) is None


def test_bad_input_keeps_what_was_typed(client, sign_in, db):
    user = UserFactory()
    db.session.commit()
    sign_in(user)
    response = client.post("/collaborations/new", data={
        **NEW, "title": "", "description": "Typed description", "purpose": "conquest",
        "organization_name": "Half an org"})
    assert response.status_code == 422
    assert error_of(response, "title") == "Give the collaboration a title."
    assert error_of(response, "purpose")
    assert error_of(response, "organization_sector") == "Choose the organization's sector."
    body = page(response)
    assert "Typed description" in body
    assert 'value="Half an org"' in body
    assert db.session.scalar(select(Collaboration)) is None


def test_new_collaboration_form_is_protected_against_csrf(app, client, sign_in, db, monkeypatch):
    user = UserFactory()
    db.session.commit()
    sign_in(user)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = client.post("/collaborations/new", data=NEW)
    assert refused.status_code == 400
    assert db.session.scalar(select(Collaboration)) is None
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page(client.get("/collaborations/new"))).group(1)
    accepted = client.post("/collaborations/new", data={**NEW, "csrf_token": token})
    assert accepted.status_code == 302
    assert db.session.scalar(select(Collaboration)).title == "Meaningful work"
