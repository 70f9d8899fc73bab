"""Every answer carries the security headers (coprod.web._security_headers): pages, errors,
redirects and the API's JSON alike; HSTS only where the site is served over HTTPS; a header
a view set itself is kept."""

from __future__ import annotations

import pytest
from flask import Response

from coprod.web import CONTENT_SECURITY_POLICY, _security_headers

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _security_of(response) -> dict[str, list[str]]:
    names = [*EXPECTED, "Strict-Transport-Security"]
    return {name: response.headers.getlist(name) for name in names}


@pytest.mark.parametrize("path", ["/login", "/no-such-page", "/api/v1/me", "/"])
def test_every_answer_carries_the_security_headers_once(db, client, path):
    response = client.get(path)

    found = _security_of(response)
    assert {name: found[name] for name in EXPECTED} == {n: [v] for n, v in EXPECTED.items()}
    assert found["Strict-Transport-Security"] == []


def test_a_site_served_over_https_asks_browsers_to_keep_to_it(app, db, client, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)

    response = client.get("/login", base_url="https://localhost")

    assert response.headers.getlist("Strict-Transport-Security") == ["max-age=31536000"]


def test_a_header_the_view_set_itself_is_kept(app):
    response = Response("framed", headers={"x-frame-options": "SAMEORIGIN",
                                           "Content-Security-Policy": "default-src 'none'"})
    with app.test_request_context("/"):
        _security_headers(response)

    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
