"""Error pages are Coprod pages (the base layout) in the reader's language, never Werkzeug's
English text; a 404 for what one may not see is the very page of one for what does not exist;
the API keeps its JSON errors."""

from __future__ import annotations

import re

import pytest
from werkzeug.exceptions import BadRequest, ServiceUnavailable, TooManyRequests

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from tests.conftest import celery_back_to, dispose, make_app
from tests.factories import CollaborationFactory, PartnerFactory, member

FIELDS = dict(kind="works", perspective="collaboration", component="routines",
              learning_level="inter", mode="exploitation")
WERKZEUG = ("The requested URL", "was not found on the server", "Method Not Allowed",
            "Internal Server Error", "Too Many Requests", "Bad Request")


def _lang(response) -> str:
    return re.search(r'<html lang="([^"]*)"', response.get_data(as_text=True)).group(1)


def _coprod_page(response, code: int, lang: str) -> str:
    """The body of an error page: the base layout, in `lang`, no Werkzeug text."""
    assert response.status_code == code
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert _lang(response) == lang
    assert 'class="site-header"' in page and 'class="skip-link"' in page  # base.html
    assert f"<h1>{code} · " in page
    for english in WERKZEUG:
        assert english not in page
    return page


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page)


@pytest.fixture
def world(db):
    """A Finnish partner in a collaboration with a coordinators-only reflection, and another
    collaboration with a reflection of its own."""
    collab = CollaborationFactory()
    partner = PartnerFactory(collaboration=collab)
    boss = member(collab, Role.COORDINATOR, locale="da")
    staff = member(collab, Role.PARTNER_STAFF, partner, locale="fi")
    hidden = reflections.post_reflection(policy.actor_for(boss.user), collab,
                                         body="Only for coordinators.",
                                         visibility=Visibility.COORDINATORS, **FIELDS)
    other = CollaborationFactory()
    stranger = member(other, Role.COORDINATOR)
    theirs = reflections.post_reflection(policy.actor_for(stranger.user), other,
                                         body="Elsewhere.", **FIELDS)
    db.session.commit()
    return collab, boss, staff, hidden, other, theirs


def test_a_404_is_a_coprod_page_in_the_browsers_language(client):
    page = _coprod_page(client.get("/no/such/page", headers={"Accept-Language": "fi"}), 404,
                        "fi")
    assert "Sivua ei löytynyt" in page
    page = _coprod_page(client.get("/no/such/page", headers={"Accept-Language": "da"}), 404,
                        "da")
    assert "Siden blev ikke fundet" in page
    page = _coprod_page(client.get("/no/such/page"), 404, "en")
    assert "Page not found" in page and "There is nothing here that you can see." in page


def test_a_404_for_what_one_may_not_see_is_the_404_for_what_does_not_exist(
        client, sign_in, world):
    collab, _boss, staff, hidden, other, theirs = world
    sign_in(staff.user)
    missing = hidden.id + theirs.id + 1000

    cases = [
        # a reflection of the staff's own collaboration they may not read / none at all
        (f"/c/{collab.id}/reflections/{hidden.id}", f"/c/{collab.id}/reflections/{missing}"),
        # a reflection of another collaboration, through their own / none at all
        (f"/c/{collab.id}/reflections/{theirs.id}", f"/c/{collab.id}/reflections/{missing}"),
        # a collaboration they are not a member of / none at all
        (f"/c/{other.id}/reflections", f"/c/{other.id + 1000}/reflections"),
        (f"/c/{other.id}/reflections/{theirs.id}",
         f"/c/{other.id + 1000}/reflections/{theirs.id}"),
    ]
    for unseen, absent in cases:
        seen_page = _coprod_page(client.get(unseen), 404, "fi")
        absent_page = _coprod_page(client.get(absent), 404, "fi")
        assert _without_csrf(seen_page) == _without_csrf(absent_page), unseen
        assert "Sivua ei löytynyt" in seen_page


def test_403_and_405_pages_in_the_users_language(client, sign_in, world):
    collab, _boss, staff, *_ = world
    sign_in(staff.user)
    page = _coprod_page(client.post(f"/c/{collab.id}/routines/new", data={}), 403, "fi")
    assert "Ei sallittu" in page

    response = client.get("/logout")
    page = _coprod_page(response, 405, "fi")
    assert "POST" in response.headers["Allow"]  # the exception's headers are kept
    assert "Tämä osoite ei ota vastaan tällaista pyyntöä." in page


def test_413_page_in_the_browsers_language(app, client):
    response = client.post("/login", data={"email": "x" * app.config["MAX_CONTENT_LENGTH"]},
                           headers={"Accept-Language": "fi"})
    page = _coprod_page(response, 413, "fi")
    assert "Lähettämäsi tieto on liian suuri." in page


@pytest.fixture
def failing_app(app, tmp_path):
    """An app with routes that fail in each remaining way (400, 429, 500, 503)."""
    other = make_app(tmp_path / "failing")

    @other.get("/fail/<int:code>")
    def fail(code: int):
        if code == 500:
            raise RuntimeError("a bug")
        raise {400: BadRequest, 429: TooManyRequests, 503: ServiceUnavailable}[code]()

    yield other
    dispose(other)
    celery_back_to(app)


@pytest.mark.parametrize(("code", "finnish", "danish"), [
    (400, "Pyyntöä ei ymmärretty", "Forespørgslen blev ikke forstået"),
    (429, "Liian monta pyyntöä", "For mange forespørgsler"),
    (500, "Jokin meni vikaan", "Noget gik galt"),
    (503, "Coprod ei ole käytettävissä", "Coprod er ikke tilgængelig"),
])
def test_other_error_pages_in_the_browsers_language(failing_app, code, finnish, danish):
    browser = failing_app.test_client()
    page = _coprod_page(browser.get(f"/fail/{code}", headers={"Accept-Language": "fi"}), code,
                        "fi")
    assert finnish in page
    page = _coprod_page(browser.get(f"/fail/{code}", headers={"Accept-Language": "da"}), code,
                        "da")
    assert danish in page


def test_the_api_keeps_json_errors_in_the_users_language(client, db, world):
    _collab, _boss, staff, _hidden, other, theirs = world
    _token, secret = create_token(staff.user, "tests")
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}

    unseen = client.get(f"/api/v1/collaborations/{other.id}", headers=headers)
    absent = client.get(f"/api/v1/collaborations/{other.id + 1000}", headers=headers)
    assert unseen.status_code == absent.status_code == 404
    assert unseen.mimetype == "application/json"
    assert unseen.get_json() == absent.get_json()
    body = unseen.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found"
    assert body["message"].startswith("Täällä ei ole mitään")

    wrong = client.delete("/api/v1/me", headers=headers)
    assert wrong.status_code == 405 and wrong.mimetype == "application/json"
    assert wrong.get_json()["status"] == "Method Not Allowed"
