"""The overview, the sub-navigation, settings and archiving; who gets 404 and who gets 403."""

from __future__ import annotations

import re

import pytest

from coprod.accounts.models import Role
from coprod.extensions import db as _db
from coprod.spaces.models import Collaboration, CollaborationStatus, Purpose
from tests.factories import InvitationFactory, MembershipFactory, member
from tests.spaces.pages import error_of, page, text_of_page

# Every URL of a collaboration: (method, template). {c} the collaboration, {p} a partner,
# {m} a membership, {i} an invitation of it.
URLS = [
    ("GET", "/c/{c}"),
    ("GET", "/c/{c}/settings"),
    ("POST", "/c/{c}/settings"),
    ("POST", "/c/{c}/archive"),
    ("POST", "/c/{c}/reopen"),
    ("GET", "/c/{c}/charter"),
    ("GET", "/c/{c}/charter/edit"),
    ("POST", "/c/{c}/charter/edit"),
    ("GET", "/c/{c}/charter/history"),
    ("GET", "/c/{c}/partners"),
    ("POST", "/c/{c}/partners/add"),
    ("GET", "/c/{c}/partners/{p}/edit"),
    ("POST", "/c/{c}/partners/{p}/edit"),
    ("POST", "/c/{c}/partners/{p}/remove"),
    ("GET", "/c/{c}/members"),
    ("POST", "/c/{c}/members/{m}"),
    ("POST", "/c/{c}/members/{m}/remove"),
    ("POST", "/c/{c}/leave"),
    ("GET", "/c/{c}/invitations"),
    ("POST", "/c/{c}/invitations"),
    ("POST", "/c/{c}/invitations/{i}/revoke"),
]

# The URLs that change something or show a form to change it.
EDIT_URLS = [(method, url) for method, url in URLS if url not in (
    "/c/{c}", "/c/{c}/charter", "/c/{c}/charter/history", "/c/{c}/partners", "/c/{c}/members",
    "/c/{c}/leave")]


def _ids(space):
    invitation = InvitationFactory(collaboration=space.collab)
    _db.session.commit()
    return {"c": space.collab.id, "p": space.job_centre.id,
            "m": space.people.citizen.id, "i": invitation.id}


def _request(client, method, url, **ids):
    return client.open(url.format(**ids), method=method, data={})


@pytest.mark.parametrize(("method", "url"), URLS)
def test_a_stranger_gets_404_on_every_url_of_the_collaboration(client, sign_in, space, method,
                                                                url):
    ids = _ids(space)
    sign_in(space.outsider.user)
    response = _request(client, method, url, **ids)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "url"), [
    (m, u) for m, u in URLS if "{p}" in u or "{m}" in u or "{i}" in u])
def test_objects_of_another_collaboration_answer_404_under_mine(client, sign_in, space, method,
                                                                 url):
    """A coordinator of both spaces still cannot reach one's objects through the other's URL."""
    ids = _ids(space)
    coordinator = space.people.coordinator.user
    MembershipFactory(collaboration=space.elsewhere, user=coordinator, role=Role.COORDINATOR)
    foreign_invitation = InvitationFactory(collaboration=space.elsewhere)
    _db.session.commit()
    ids.update(p=space.other_partner.id, m=space.outsider.id, i=foreign_invitation.id)
    sign_in(coordinator)
    assert _request(client, method, url, **ids).status_code == 404


def test_logged_out_visitors_are_sent_to_log_in(client, space):
    response = client.get(f"/c/{space.collab.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "url"), EDIT_URLS)
def test_an_observer_gets_403_on_every_edit_url(client, sign_in, space, method, url):
    ids = _ids(space)
    sign_in(space.people.observer.user)
    assert _request(client, method, url, **ids).status_code == 403


def test_overview_shows_the_collaboration_and_my_place_in_it(client, sign_in, space):
    sign_in(space.people.staff_a.user)
    response = client.get(f"/c/{space.collab.id}")
    assert response.status_code == 200
    text = text_of_page(response)
    assert "Meaningful work" in text
    assert "A new service" in text
    assert "A social group: People on disability pension" in text
    assert "Reciprocal" in text
    assert re.search(r"Partners 2 Members 5", text)
    assert "Partner staff · on behalf of Job centre" in text
    assert "Active" in text
    body = page(response)
    assert f'href="/c/{space.collab.id}" aria-current="page"' in body
    # Invitations and settings are for coordinators only.
    assert f"/c/{space.collab.id}/invitations" not in body
    assert f"/c/{space.collab.id}/settings" not in body


def test_a_coordinator_sees_invitations_and_settings_in_the_subnav(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    body = page(client.get(f"/c/{space.collab.id}/members"))
    assert f'href="/c/{space.collab.id}/invitations"' in body
    assert f'href="/c/{space.collab.id}/settings"' in body
    assert f'href="/c/{space.collab.id}/members" aria-current="page"' in body


def test_coordinator_edits_the_settings(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    url = f"/c/{space.collab.id}/settings"
    assert 'value="Meaningful work"' in page(client.get(url))
    response = client.post(url, data={
        "title": "Meaningful work in Aarhus", "purpose": "repackaging", "remit_kind": "sector",
        "remit": "Employment", "description": "Now with more cafés.", "interdependence": "",
        "timezone": "Europe/Copenhagen"}, follow_redirects=True)
    assert response.status_code == 200
    assert "The settings are saved." in page(response)
    collab = db.session.get(Collaboration, space.collab.id)
    db.session.refresh(collab)
    assert collab.title == "Meaningful work in Aarhus"
    assert collab.purpose == Purpose.REPACKAGING
    assert collab.interdependence is None
    assert collab.timezone == "Europe/Copenhagen"


def test_settings_keep_typed_values_and_show_errors_next_to_fields(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/settings", data={
        "title": "   ", "purpose": "world_domination", "remit_kind": "sector",
        "remit": "Typed remit", "description": "", "interdependence": "", "timezone": "Mars/Base"})
    assert response.status_code == 422
    assert error_of(response, "title") == "Give the collaboration a title."
    assert error_of(response, "purpose")
    assert error_of(response, "timezone")
    assert 'value="Typed remit"' in page(response)


def test_archived_collaboration_is_read_only(client, sign_in, space, db):
    coordinator = space.people.coordinator.user
    sign_in(coordinator)
    cid = space.collab.id
    response = client.post(f"/c/{cid}/archive", follow_redirects=True)
    assert "The collaboration is archived." in page(response)
    assert db.session.get(Collaboration, cid).status == CollaborationStatus.ARCHIVED

    for url in (f"/c/{cid}", f"/c/{cid}/charter", f"/c/{cid}/partners", f"/c/{cid}/members",
                f"/c/{cid}/invitations", f"/c/{cid}/settings"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = page(response)
        assert "This collaboration is archived." in body, url
        for control in ("/charter/edit", "/partners/add", "/partners/{p}/remove", "/edit\"",
                        "<select", "Send the invitation", "Save the settings",
                        "Archive the collaboration", "Withdraw"):
            assert control.format(p=space.job_centre.id) not in body, (url, control)
    # Ending a membership only takes access away: the policy still allows it, so people can
    # leave and coordinators can remove someone from an archived space.
    assert "Leave the collaboration" in page(client.get(f"/c/{cid}/members"))
    # Changes are refused, not only hidden.
    assert client.get(f"/c/{cid}/charter/edit").status_code == 403
    assert client.post(f"/c/{cid}/partners/add", data={"name": "X", "sector": "public"}
                       ).status_code == 403
    assert client.post(f"/c/{cid}/invitations", data={"email": "a@example.org",
                                                      "role": "observer"}).status_code == 403
    assert client.get(f"/c/{cid}/partners/{space.job_centre.id}/edit").status_code == 403
    response = client.post(f"/c/{cid}/settings", data={
        "title": "Changed", "purpose": "efficiency", "remit_kind": "sector", "remit": "r",
        "timezone": "UTC"})
    assert response.status_code == 409
    assert "Reopen the collaboration before changing it." in page(response)

    # The coordinator reopens it from the settings page.
    assert "Reopen the collaboration" in page(client.get(f"/c/{cid}/settings"))
    response = client.post(f"/c/{cid}/reopen", follow_redirects=True)
    assert "The collaboration is active again." in page(response)
    assert "/charter/edit" in page(client.get(f"/c/{cid}/charter"))


def test_members_of_an_archived_collaboration_still_read_it(client, sign_in, space, db):
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    sign_in(space.people.citizen.user)
    response = client.get(f"/c/{space.collab.id}/charter")
    assert response.status_code == 200
    assert "This collaboration is archived." in page(response)
    assert "Reopen" not in page(response)


def test_observer_sees_no_edit_controls(client, sign_in, space, db):
    InvitationFactory(collaboration=space.collab)
    db.session.commit()
    sign_in(space.people.observer.user)
    cid = space.collab.id
    for url in (f"/c/{cid}", f"/c/{cid}/charter", f"/c/{cid}/charter/history",
                f"/c/{cid}/partners", f"/c/{cid}/members"):
        body = page(client.get(url))
        for control in ("/charter/edit", "/partners/add", f"/partners/{space.job_centre.id}/",
                        "/settings", "/invitations", "/archive", "Remove", "<select"):
            assert control not in body, (url, control)
    # The one change an observer may make: leaving.
    assert "Leave the collaboration" in page(client.get(f"/c/{cid}/members"))


def test_members_count_ignores_other_collaborations(client, sign_in, space, db):
    member(space.elsewhere, Role.OBSERVER)
    db.session.commit()
    sign_in(space.people.coordinator.user)
    assert "Partners 2 Members 5" in text_of_page(client.get(f"/c/{space.collab.id}"))
