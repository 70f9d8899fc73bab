"""Partners: what each brings and is responsible for; adding, describing and removing them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import Role
from coprod.spaces.models import (
    Organization,
    Partner,
    Resource,
    Responsibility,
    ResponsibilityKind,
    Sector,
    Tangibility,
)
from tests.conftest import statements_run
from tests.factories import (
    PASSWORD,
    CollaborationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
    member,
)
from tests.spaces.pages import error_of, page, text_of_page


def _partners(db, collab) -> list[Partner]:
    db.session.expire_all()
    return list(db.session.scalars(select(Partner).where(Partner.collaboration_id == collab.id)
                                   .order_by(Partner.id)))


def test_partners_page_shows_what_each_partner_brings(client, sign_in, space):
    sign_in(space.people.citizen.user)
    response = client.get(f"/c/{space.collab.id}/partners")
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Interdependence: Reciprocal: back and forth" in text
    assert "Job centre Public" in text
    assert "Operational Matches citizens with workplaces" in text
    assert "Intangible Know-how about job matching" in text
    assert "Café Solsikke" in text
    assert "Other org" not in text
    assert "Add a partner" not in text and "Describe" not in text and "Remove" not in text


def test_coordinator_adds_a_new_organization(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/partners/add",
                           data={"name": "Animal shelter", "sector": "third_sector"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Animal shelter is now a partner." in page(response)
    assert "Animal shelter Third sector" in text_of_page(response)
    added = db.session.scalar(select(Organization).where(Organization.name == "Animal shelter"))
    assert added.sector == Sector.THIRD_SECTOR


def test_coordinator_adds_an_organization_known_from_another_collaboration(
        client, sign_in, space, db):
    coordinator = space.people.coordinator
    other = CollaborationFactory()
    shelter = PartnerFactory(collaboration=other, organization__name="Animal shelter")
    member(other, Role.OBSERVER).user = coordinator.user
    db.session.commit()
    sign_in(coordinator.user)
    form = page(client.get(f"/c/{space.collab.id}/partners"))
    # Known and not yet a partner here: offered. Already a partner or unknown: not offered.
    assert f'<option value="{shelter.organization_id}">Animal shelter</option>' in form
    assert f'<option value="{space.job_centre.organization_id}">' not in form
    assert "Other org" not in form
    response = client.post(f"/c/{space.collab.id}/partners/add",
                           data={"organization_id": str(shelter.organization_id)})
    assert response.status_code == 302
    assert [p.organization_id for p in _partners(db, space.collab)][-1] == \
        shelter.organization_id


def test_adding_needs_a_choice_or_a_name_and_a_sector(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    url = f"/c/{space.collab.id}/partners/add"
    response = client.post(url, data={})
    assert response.status_code == 422
    assert error_of(response, "name") == "Name the new organization, or pick a known one."
    response = client.post(url, data={"name": "Shelter"})
    assert response.status_code == 422
    assert error_of(response, "sector") == "Choose the organization's sector."
    assert 'value="Shelter"' in page(response)
    response = client.post(url, data={"name": "Shelter", "sector": "aristocracy"})
    assert response.status_code == 422
    assert error_of(response, "sector")
    # An organization the coordinator cannot see is not a valid choice either.
    response = client.post(url, data={"organization_id": str(space.other_partner.organization_id)})
    assert response.status_code == 422
    assert error_of(response, "organization_id")
    assert len(_partners(db, space.collab)) == 2
    assert db.session.scalar(select(func.count(Organization.id))) == 3


def test_the_describe_form_shows_existing_rows_and_two_blank_ones(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    body = page(client.get(f"/c/{space.collab.id}/partners/{space.job_centre.id}/edit"))
    assert "Matches citizens with workplaces" in body
    assert "Know-how about job matching" in body
    assert 'id="responsibilities-2-description"' in body
    assert 'id="responsibilities-3-description"' not in body
    assert 'id="resources-2-description"' in body
    assert '<label for="responsibilities-0-kind">Kind</label>' in body


def test_describe_a_partner_blank_rows_ignored_emptied_rows_removed(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    url = f"/c/{space.collab.id}/partners/{space.job_centre.id}/edit"
    response = client.post(url, data={
        # The existing responsibility is emptied: removed.
        "responsibilities-0-kind": "operational", "responsibilities-0-description": "",
        "responsibilities-1-kind": "strategic",
        "responsibilities-1-description": "Influences the municipality's employment policy",
        "responsibilities-2-kind": "operational", "responsibilities-2-description": "  ",
        "resources-0-tangibility": "intangible",
        "resources-0-description": "Know-how about job matching",
        "resources-1-tangibility": "tangible", "resources-1-description": "Meeting rooms",
        "resources-2-tangibility": "both", "resources-2-description": "",
    })
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/c/{space.collab.id}/partners#partner-{space.job_centre.id}")
    db.session.expire_all()
    duties = db.session.scalars(select(Responsibility).where(
        Responsibility.partner_id == space.job_centre.id)).all()
    assert [(r.kind, r.description) for r in duties] == [
        (ResponsibilityKind.STRATEGIC, "Influences the municipality's employment policy")]
    resources = db.session.scalars(select(Resource).where(
        Resource.partner_id == space.job_centre.id).order_by(Resource.id)).all()
    assert [(r.tangibility, r.description) for r in resources] == [
        (Tangibility.INTANGIBLE, "Know-how about job matching"),
        (Tangibility.TANGIBLE, "Meeting rooms")]
    text = text_of_page(client.get(f"/c/{space.collab.id}/partners"))
    assert "Strategic Influences the municipality's employment policy" in text
    assert "Tangible Meeting rooms" in text
    assert "Matches citizens with workplaces" not in text


def test_a_kind_posted_by_hand_is_a_field_error(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/partners/{space.job_centre.id}/edit", data={
        "responsibilities-0-kind": "imperial", "responsibilities-0-description": "Typed duty"})
    assert response.status_code == 422
    assert error_of(response, "responsibilities-0-kind")
    assert "Typed duty" in page(response)
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Responsibility.id))) == 1


def test_partner_staff_describe_their_own_partner_only(client, sign_in, space, db):
    sign_in(space.people.staff_a.user)
    cid = space.collab.id
    body = page(client.get(f"/c/{cid}/partners"))
    assert f"/c/{cid}/partners/{space.job_centre.id}/edit" in body
    assert f"/c/{cid}/partners/{space.cafe.id}/edit" not in body
    assert "/remove" not in body and "Add a partner" not in body
    response = client.post(f"/c/{cid}/partners/{space.job_centre.id}/edit", data={
        "resources-0-tangibility": "tangible", "resources-0-description": "Two job consultants"})
    assert response.status_code == 302
    assert client.get(f"/c/{cid}/partners/{space.cafe.id}/edit").status_code == 403
    response = client.post(f"/c/{cid}/partners/{space.cafe.id}/edit", data={
        "resources-0-tangibility": "tangible", "resources-0-description": "Not ours to say"})
    assert response.status_code == 403
    db.session.expire_all()
    assert [r.description for r in db.session.scalars(select(Resource))] == [
        "Two job consultants"]


def test_remove_a_partner_nobody_acts_for(client, sign_in, space, db):
    lonely = PartnerFactory(collaboration=space.collab, organization__name="Lonely org")
    db.session.commit()
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/partners/{lonely.id}/remove",
                           follow_redirects=True)
    assert response.status_code == 200
    assert "Lonely org is no longer a partner." in page(response)
    assert lonely.id not in [p.id for p in _partners(db, space.collab)]


def test_a_partner_members_act_for_cannot_be_removed(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/partners/{space.job_centre.id}/remove")
    assert response.status_code == 409
    assert ("Job centre: Members act on behalf of this partner. Change or remove them first."
            in page(response))
    assert space.job_centre.id in [p.id for p in _partners(db, space.collab)]


def _count_queries(db, browser, url):
    """The response of GET url and how many SQL statements it ran."""
    with statements_run(db) as run:
        response = browser.get(url)
    assert response.status_code == 200
    return response, len(run)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.OBSERVER])
def test_the_partners_page_runs_as_many_queries_for_10_partners_as_for_2(
        new_client, db, role):
    def world(n: int) -> tuple[int, str]:
        collab = CollaborationFactory()
        for _ in range(n):
            partner = PartnerFactory(collaboration=collab)
            ResponsibilityFactory.create_batch(2, partner=partner)
            ResourceFactory.create_batch(2, partner=partner)
            member(collab, Role.PARTNER_STAFF, partner)
        return collab.id, member(collab, role).user.email

    worlds = {n: world(n) for n in (2, 10)}
    db.session.commit()
    counts = {}
    for n, (collab_id, email) in worlds.items():
        browser = new_client()
        assert browser.post("/login", data={"email": email, "password": PASSWORD}
                            ).status_code == 302
        db.session.expunge_all()  # nothing cached from the setup helps the page
        response, counts[n] = _count_queries(db, browser, f"/c/{collab_id}/partners")
        assert len(re.findall(r'class="partner card"', page(response))) == n
        # The policy is asked about every partner's edit controls without a query each.
        expected_controls = n if role == Role.COORDINATOR else 0
        assert page(response).count('/edit"') == expected_controls
    assert counts[2] == counts[10]
