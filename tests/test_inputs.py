"""Input the database cannot take answers 400/404/413/422, on pages and in the API, never 500
(coprod/inputs.py, the API's parser in coprod/api/common.py): ids beyond PostgreSQL's
integer, pages whose OFFSET would overflow, forged cursors, days at the end of the calendar,
NUL characters and lone surrogates, deep and large JSON bodies."""

from __future__ import annotations

import base64

import pytest

from coprod.accounts.operations import create_token
from coprod.extensions import db
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import CLASSIFIED, post, reflection_form

BEYOND_INT = 2**31
BEYOND_BIGINT = 2**63
HUGE_PAGE = 2**62


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORGED_CURSORS = [
    _cursor(f"2026-01-01T00:00:00+00:00|{BEYOND_BIGINT}"),  # an id no table has
    _cursor("9999-12-31T23:59:59-05:00|1"),  # past the end of the calendar in UTC
    _cursor("0001-01-01T00:00:00+01:00|1"),  # before its start
    "not-a-cursor",
]


@pytest.fixture
def api(world, client):
    """GET/POST/... as the coordinator with a token: api(method, path, **kwargs)."""
    post(world.collab, world.people.jens)
    _token, secret = create_token(world.people.coordinator, "tests")
    db.session.commit()

    def _call(method, path, **kwargs):
        headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
        path = path.format(c=world.collab.id)
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return _call


def _json_error(response, *codes):
    assert response.status_code in codes, (response.status_code, response.get_data()[:300])
    body = response.get_json()
    assert body["code"] == response.status_code and body["message"]
    return body


# -- ids beyond the database's integer: 404 ------------------------------------------------

@pytest.mark.parametrize("path", [f"/collaborations/{BEYOND_INT}",
                                  f"/collaborations/{{c}}/reflections/{BEYOND_BIGINT}",
                                  f"/collaborations/{{c}}/partners/{10**30}"])
def test_api_ids_beyond_the_integer_range_are_not_found(api, path):
    _json_error(api("GET", path), 404)


@pytest.mark.parametrize("path", [f"/c/{BEYOND_INT}",
                                  f"/c/{{c}}/reflections/{BEYOND_BIGINT}"])
def test_page_ids_beyond_the_integer_range_are_not_found(world, browser_for, path):
    response = browser_for(world.people.coordinator).get(path.format(c=world.collab.id))
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_the_openapi_document_states_the_id_range(client, db):
    spec = client.get("/api/v1/openapi.json").get_json()
    (param,) = spec["paths"]["/api/v1/collaborations/{collaboration_id}"]["parameters"]
    assert param["schema"]["maximum"] == BEYOND_INT - 1


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/collaborations/{c}/partners", {"organization_id": BEYOND_BIGINT},
     "organization_id"),
    ("POST", "/collaborations/{c}/invitations",
     {"email": "a@example.org", "role": "partner_staff", "partner_id": BEYOND_INT}, "partner_id"),
    ("POST", "/collaborations/{c}/reflections",
     {**CLASSIFIED, "body": "x", "visibility": "partners", "audience": [-BEYOND_INT - 1]},
     "audience"),
])
def test_api_integers_in_bodies_beyond_the_integer_range_are_refused(api, method, path, body,
                                                                     field):
    body = _json_error(api(method, path, json=body), 422)
    assert field in body["errors"]["json"]


def test_api_integers_in_queries_beyond_the_integer_range_are_refused(api):
    body = _json_error(api("GET", f"/collaborations/{{c}}/reflections?partner_id={BEYOND_BIGINT}"),
                       422)
    assert "partner_id" in body["errors"]["query"]


# -- pages whose OFFSET would overflow: 422 (API) or 404 (pages) ---------------------------

@pytest.mark.parametrize("path", ["/collaborations", "/collaborations/{c}/partners",
                                  "/collaborations/{c}/routines"])
def test_api_pages_beyond_the_last_possible_one_are_refused(api, path):
    body = _json_error(api("GET", f"{path}?page={HUGE_PAGE}&page_size=100"), 422)
    assert "page" in body["errors"]["query"]


@pytest.mark.parametrize("path", ["/notifications?page={p}", "/c/{c}/messages?page={p}",
                                  "/c/{c}/search?q=handover&page={p}"])
def test_pages_beyond_the_last_possible_one_are_not_found(world, browser_for, path):
    response = browser_for(world.people.coordinator).get(
        path.format(c=world.collab.id, p=HUGE_PAGE))
    assert response.status_code == 404 and response.mimetype == "text/html"


# -- forged cursors: 400 -------------------------------------------------------------------

@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_api_forged_cursors_are_bad_requests(api, cursor):
    _json_error(api("GET", f"/collaborations/{{c}}/reflections?cursor={cursor}"), 400)


@pytest.mark.parametrize("cursor", FORGED_CURSORS)
def test_forged_cursors_on_pages_are_bad_requests(world, browser_for, cursor):
    browser = browser_for(world.people.coordinator)
    for path in (f"/c/{world.collab.id}/reflections?cursor={cursor}",):
        response = browser.get(path)
        assert response.status_code == 400 and response.mimetype == "text/html"


# -- days at the ends of the calendar ------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "kwargs", "location", "field"), [
    ("GET", "/collaborations/{c}/reflections?until=9999-12-31", {}, "query", "until"),
    ("GET", "/collaborations/{c}/reflections?since=0001-01-01", {}, "query", "since"),
    ("GET", "/collaborations/{c}/export?until=9999-12-31", {}, "query", "until"),
    ("PUT", "/collaborations/{c}/leave", {"json": {"until": "9999-12-31"}}, "json", "until"),
])
def test_api_days_outside_the_calendar_it_keeps_are_refused(api, method, path, kwargs,
                                                             location, field):
    body = _json_error(api(method, path, **kwargs), 422)
    assert field in body["errors"][location]


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01&until=9999-12-31"])
def test_the_feed_page_reads_the_last_day_of_the_calendar_as_no_end(world, browser_for, query):
    post(world.collab, world.people.jens)
    response = browser_for(world.people.coordinator).get(
        f"/c/{world.collab.id}/reflections?{query}")
    assert response.status_code == 200
    assert "Handovers between us get lost" in response.get_data(as_text=True)


# -- NUL characters and lone surrogates: 422 (API) or 400 (pages) --------------------------

@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b", "\udfff"])
@pytest.mark.parametrize(("path", "body", "field"), [
    ("/collaborations/{c}/reflections",
     lambda bad: {**CLASSIFIED, "body": bad, "visibility": "collaboration"}, "body"),
    ("/tokens", lambda bad: {"name": bad}, "name"),
    ("/collaborations/{c}/reflections",
     lambda bad: {**CLASSIFIED, "body": "x", "visibility": "collaboration", "tags": [bad]},
     "tags"),
])
def test_api_text_the_database_cannot_store_is_refused(api, bad, path, body, field):
    response = api("POST", path, json=body(bad))
    assert field in _json_error(response, 422)["errors"]["json"]


@pytest.mark.parametrize("query", ["search?q=a%00b", "reflections?tag=a%00b"])
def test_api_nul_in_a_query_is_refused(api, query):
    _json_error(api("GET", f"/collaborations/{{c}}/{query}"), 422)


@pytest.mark.parametrize("path", ["/c/{c}/reflections?tag=a%00b", "/c/{c}/search?q=a%00b"])
def test_pages_refuse_nul_in_the_query(world, browser_for, path):
    response = browser_for(world.people.coordinator).get(path.format(c=world.collab.id))
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "cannot be stored" in response.get_data(as_text=True)


def test_forms_refuse_nul(world, browser_for):
    response = browser_for(world.people.coordinator).post(
        f"/c/{world.collab.id}/reflections/new", data=reflection_form(body="a\x00b"))
    assert response.status_code == 400 and response.mimetype == "text/html"


# -- JSON bodies: nesting, size, presence --------------------------------------------------

@pytest.mark.parametrize("depth", [33, 100_000])
def test_api_deeply_nested_json_is_a_bad_request(api, depth):
    response = api("POST", "/collaborations/{c}/reflections", data="[" * depth + "]" * depth,
                   content_type="application/json")
    _json_error(response, 400)


def test_api_bodies_over_the_limit_are_too_large(api, app):
    body = b'{"body": "' + b"x" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    response = api("POST", "/collaborations/{c}/reflections", data=body,
                   content_type="application/json")
    _json_error(response, 413)


def test_forms_over_the_limit_are_too_large(world, browser_for, app):
    response = browser_for(world.people.coordinator).post(
        f"/c/{world.collab.id}/reflections/new",
        data=reflection_form(body="x" * app.config["MAX_CONTENT_LENGTH"]))
    assert response.status_code == 413 and response.mimetype == "text/html"


@pytest.mark.parametrize("kwargs", [{}, {"data": "name=x"}])
def test_api_a_missing_body_answers_422_where_the_document_requires_one(api, client, kwargs):
    body = _json_error(api("POST", "/tokens", **kwargs), 422)
    assert "name" in body["errors"]["json"]
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert spec["/api/v1/tokens"]["post"]["requestBody"]["required"] is True
    withdraw = spec["/api/v1/collaborations/{collaboration_id}/citizens/{citizen_id}/consents/"
                    "{consent_id}/withdraw"]["post"]  # every field optional: may be left out
    assert withdraw["requestBody"]["required"] is False
