"""The service map pages: members read the drawing and the list, coordinators edit, others
get 403 (members) or 404 (outsiders), and refused input stays in the form next to its field."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.extensions import db as _db
from coprod.servicemap import operations as ops
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from tests.conftest import statements_run
from tests.factories import PASSWORD, CollaborationFactory, PartnerFactory, member


@pytest.fixture
def drawn(db, space):
    """Two activities, the second co-produced, with a flow carrying two categories."""
    first = ops.create_activity(space.coordinator, space.collab, name="First meeting",
                                performer_ids=[space.job_centre.id])
    second = ops.create_activity(space.coordinator, space.collab, name="Finding a workplace",
                                 co_produced=True,
                                 performer_ids=[space.job_centre.id, space.cafe.id])
    ops.create_flow(space.coordinator, second, from_partner_id=space.job_centre.id,
                    to_partner_id=space.cafe.id, category_ids=[space.contact.id, space.needs.id])
    db.session.commit()
    space.first, space.second = first, second
    return space


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _url(space, rest=""):
    return f"/c/{space.collab.id}/map{rest}"


def test_a_member_reads_the_drawing_and_the_list(client, sign_in, drawn):
    sign_in(drawn.people.observer.user)
    response = client.get(_url(drawn))
    page = _text(response)
    assert response.status_code == 200
    svg = re.search(r"<svg.*?</svg>", page).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="service-map-title service-map-desc"' in svg
    assert '<title id="service-map-title">Service map of Meaningful work</title>' in svg
    assert "2 activities in order, 1 of them co-produced with citizens, 1 information flow." in svg
    assert "1. First meeting" in svg and "2. Finding a workplace" in svg
    assert "◆ Co-produced with citizens" in svg and "url(#map-coproduced)" in svg
    drawn_text = " ".join(re.sub(r"<[^>]+>", " ", svg).split())
    assert "➝ Job centre → Café Solsikke: Contact details, Support needs" in drawn_text
    listing = page[page.index("The service map as a list"):]
    words = " ".join(re.sub(r"<[^>]+>", " ", listing).split())
    assert words.index("First meeting") < words.index("Finding a workplace")
    assert "Performed by: Job centre, Café Solsikke" in words
    assert "<li>Job centre → Café Solsikke: Contact details, Support needs</li>" in listing
    assert "Add an activity" not in page and "Move up" not in page
    assert 'aria-current="page">Service map' in page


def test_an_outsider_gets_404_and_a_member_403_on_edit_pages(client, sign_in, drawn):
    sign_in(drawn.outsider.user)
    assert client.get(_url(drawn)).status_code == 404
    assert client.get(_url(drawn, f"/activities/{drawn.first.id}/edit")).status_code == 404
    client.post("/logout")
    sign_in(drawn.people.observer.user)
    assert client.get(_url(drawn, "/activities/new")).status_code == 403
    assert client.get(_url(drawn, f"/activities/{drawn.first.id}/edit")).status_code == 403
    assert client.post(_url(drawn, f"/activities/{drawn.first.id}/delete")).status_code == 403
    assert client.post(_url(drawn, f"/activities/{drawn.first.id}/move"),
                       data={"direction": "down"}).status_code == 403
    assert client.get(_url(drawn, "/categories")).status_code == 403
    flow = _db.session.scalar(select(InformationFlow))
    assert client.post(_url(drawn, f"/flows/{flow.id}/delete")).status_code == 403


def test_objects_of_another_collaboration_answer_404(client, sign_in, drawn):
    """A coordinator here who is also coordinator elsewhere cannot mix the two maps."""
    elsewhere = drawn.elsewhere
    membership = member(elsewhere, Role.COORDINATOR)
    _db.session.add(membership)
    other_activity = Activity(collaboration_id=elsewhere.id, position=1, name="Theirs")
    _db.session.add(other_activity)
    _db.session.commit()
    sign_in(drawn.people.coordinator.user)
    assert client.get(_url(drawn, f"/activities/{other_activity.id}/edit")).status_code == 404
    assert client.post(_url(drawn, f"/activities/{other_activity.id}/delete")).status_code == 404


def test_a_coordinator_adds_reorders_and_removes_activities(client, sign_in, drawn, db):
    sign_in(drawn.people.coordinator.user)
    page = _text(client.get(_url(drawn)))
    assert "Add an activity" in page and "Move down" in page
    response = client.post(_url(drawn, "/activities/new"), data={
        "name": "Follow-up", "description": "A call after a month", "co_produced": "y",
        "performers": [str(drawn.cafe.id)]})
    assert response.status_code == 302
    third = db.session.scalar(select(Activity).where(Activity.name == "Follow-up"))
    assert third.co_produced and [p.name for p in third.performers] == ["Café Solsikke"]
    client.post(_url(drawn, f"/activities/{third.id}/move"), data={"direction": "up"})
    page = _text(client.get(_url(drawn)))
    assert page.index("2. Follow-up") < page.index("3. Finding a workplace")
    client.post(_url(drawn, f"/activities/{drawn.first.id}/delete"))
    page = _text(client.get(_url(drawn)))
    assert "The activity “First meeting” is removed." in page
    assert "First meeting" not in page.split("<h1>")[1] and "1. Follow-up" in page


def test_refused_activity_keeps_what_was_typed(client, sign_in, drawn):
    sign_in(drawn.people.coordinator.user)
    response = client.post(_url(drawn, "/activities/new"), data={
        "name": "  ", "description": "Kept text", "performers": [str(drawn.cafe.id)]})
    page = _text(response)
    assert response.status_code == 422
    assert 'id="name-error">Give it a name.' in page
    assert "Kept text" in page
    assert re.search(rf'value="{drawn.cafe.id}"\s*checked', response.get_data(as_text=True))
    response = client.post(_url(drawn, f"/activities/{drawn.first.id}/edit"), data={
        "name": "Meeting", "performers": [str(drawn.other_partner.id)]})
    assert response.status_code == 422
    assert "Choose partners of this collaboration." in _text(response)


def test_flows_are_added_with_categories_and_refused_clearly(client, sign_in, drawn, db):
    sign_in(drawn.people.coordinator.user)
    url = _url(drawn, f"/activities/{drawn.first.id}/flows")
    response = client.post(url, data={"from_partner_id": drawn.cafe.id,
                                      "to_partner_id": drawn.cafe.id,
                                      "categories": [drawn.needs.id]})
    page = _text(response)
    assert response.status_code == 422
    assert 'id="to_partner_id-error">Information flows from one partner to another partner.' \
        in page
    response = client.post(url, data={"from_partner_id": drawn.other_partner.id,
                                      "to_partner_id": drawn.cafe.id,
                                      "categories": [drawn.needs.id]})
    assert response.status_code == 422
    assert 'id="from_partner_id-error">Choose partners of this collaboration.' in _text(response)
    response = client.post(url, data={"from_partner_id": drawn.cafe.id,
                                      "to_partner_id": drawn.care_home.id,
                                      "categories": [drawn.needs.id]})
    assert response.status_code == 302
    page = _text(client.get(_url(drawn, f"/activities/{drawn.first.id}/edit")))
    assert "Café Solsikke → Care home Egely: Support needs" in page
    flow = db.session.scalar(select(InformationFlow).where(
        InformationFlow.activity_id == drawn.first.id))
    client.post(_url(drawn, f"/flows/{flow.id}/delete"))
    assert "Café Solsikke → Care home Egely" not in _text(client.get(_url(drawn)))


def test_categories_are_managed_by_coordinators(client, sign_in, drawn, db):
    sign_in(drawn.people.coordinator.user)
    response = client.post(_url(drawn, "/categories"), data={"name": "Progress notes"})
    assert response.status_code == 302
    response = client.post(_url(drawn, "/categories"), data={"name": "progress notes",
                                                             "description": "typed"})
    assert response.status_code == 409
    assert "There is already a category with this name." in _text(response)
    assert "typed" in _text(response)
    notes = db.session.scalar(select(InformationCategory).where(
        InformationCategory.name == "Progress notes"))
    response = client.post(_url(drawn, f"/categories/{notes.id}/edit"),
                           data={"name": "Progress", "description": "How it goes"})
    assert response.status_code == 302
    client.post(_url(drawn, f"/categories/{drawn.needs.id}/delete"))  # carried by a flow
    client.post(_url(drawn, f"/categories/{notes.id}/delete"))
    page = _text(client.get(_url(drawn, "/categories"))).split("<h1>")[1]
    assert "Support needs" in page and "Progress" not in page


def test_forms_need_the_csrf_token(app, client, sign_in, drawn):
    """With CSRF protection on (as in production), a post without the token changes nothing."""
    sign_in(drawn.people.coordinator.user)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(_url(drawn, f"/activities/{drawn.first.id}/move"),
                               data={"direction": "down"})
        assert response.status_code == 400
        page = client.get(_url(drawn, f"/activities/{drawn.first.id}/edit"))
        assert 'name="csrf_token"' in page.get_data(as_text=True)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    _db.session.expire_all()
    assert _db.session.get(Activity, drawn.first.id).position == 1


def _map_queries(new_client, db, n: int) -> int:
    """Statements run by GET of a map of n activities, each with performers and a flow."""
    collab = CollaborationFactory()
    partners = [PartnerFactory(collaboration=collab) for _ in range(3)]
    coordinator = member(collab, Role.COORDINATOR)
    db.session.flush()
    category = InformationCategory(collaboration_id=collab.id, name="Contact details")
    db.session.add(category)
    db.session.commit()
    actor = policy.actor_for(coordinator.user)
    for i in range(n):
        activity = ops.create_activity(actor, collab, name=f"Step {i}", co_produced=i % 2 == 0,
                                       performer_ids=[p.id for p in partners[:2]])
        ops.create_flow(actor, activity, from_partner_id=partners[0].id,
                        to_partner_id=partners[2].id, category_ids=[category.id])
    db.session.commit()
    collab_id = collab.id
    browser = new_client()
    browser.post("/login", data={"email": coordinator.user.email, "password": PASSWORD})
    db.session.expunge_all()
    with statements_run(db) as run:
        response = browser.get(f"/c/{collab_id}/map")
    assert response.status_code == 200
    assert f"Step {n - 1}" in response.get_data(as_text=True)
    return len(run)


def test_the_map_page_runs_as_many_queries_for_10_activities_as_for_3(new_client, db):
    assert _map_queries(new_client, db, 3) == _map_queries(new_client, db, 10)
