"""CSRF protection (coprod.extensions.CheckedOnceCSRF): a form's token is accepted as
Flask-WTF accepts it, its signature checked once per worker, and refused as Flask-WTF
refuses it: missing, tampered, another session's, signed with another key, or posted over
HTTPS from another site."""

from __future__ import annotations

import re

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import make_app
from tests.factories import PASSWORD


@pytest.fixture
def guarded(tmp_path):
    return make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True)


def _token_of(response) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                     response.get_data(as_text=True)).group(1)


def _signed_in(app, user, base_url: str = "http://localhost"):
    client = app.test_client()
    token = _token_of(client.get("/login", base_url=base_url))
    answer = client.post("/login", base_url=base_url, headers={"Referer": f"{base_url}/login"},
                         data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return client, _token_of(client.get("/profile", base_url=base_url))


def _rename(client, token, name, base_url: str = "http://localhost", **headers):
    return client.post("/profile", base_url=base_url, headers=headers,
                       data={"display_name": name, "locale": "en",
                             "timezone": "Europe/Copenhagen", "csrf_token": token})


def _counting_token_checks(monkeypatch) -> list:
    """The checks of a CSRF token's signature from now on (not the session cookie's)."""
    checked = []
    unsign = TimestampSigner.unsign

    def counted(self, *args, **kwargs):
        if self.salt == b"wtf-csrf-token":
            checked.append(1)
        return unsign(self, *args, **kwargs)

    monkeypatch.setattr(TimestampSigner, "unsign", counted)
    return checked


def test_a_token_is_checked_once_and_accepted_again(guarded, user, monkeypatch):
    client, token = _signed_in(guarded, user)
    assert _rename(client, token, "First name").status_code == 302
    checked = _counting_token_checks(monkeypatch)
    assert _rename(client, token, "Second name").status_code == 302
    assert checked == []
    assert "Second name" in client.get("/profile").get_data(as_text=True)


def test_a_tampered_or_missing_token_is_refused(guarded, user):
    client, token = _signed_in(guarded, user)
    assert _rename(client, token, "Accepted").status_code == 302
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert _rename(client, tampered, "Tampered").status_code == 400
    assert _rename(client, "", "Missing").status_code == 400
    assert "Tampered" not in client.get("/profile").get_data(as_text=True)


def test_another_sessions_token_is_refused(guarded, user):
    mine, my_token = _signed_in(guarded, user)
    assert _rename(mine, my_token, "Mine").status_code == 302  # remembered
    other, _their_token = _signed_in(guarded, user)
    refused = _rename(other, my_token, "Theirs")
    assert refused.status_code == 400
    assert "Theirs" not in mine.get("/profile").get_data(as_text=True)


def test_a_token_signed_with_a_key_no_longer_in_use_is_refused(guarded, user):
    client, token = _signed_in(guarded, user)
    assert _rename(client, token, "Before").status_code == 302  # remembered
    guarded.config["WTF_CSRF_SECRET_KEY"] = "another-csrf-key-not-for-production"
    assert _rename(client, token, "After").status_code == 400


def test_over_https_a_post_from_another_site_is_refused(guarded, user):
    https = "https://localhost"
    client, token = _signed_in(guarded, user, base_url=https)
    same_site = {"Referer": f"{https}/profile"}
    assert _rename(client, token, "Same site", https, **same_site).status_code == 302
    assert _rename(client, token, "Again", https, **same_site).status_code == 302  # remembered
    elsewhere = _rename(client, token, "Elsewhere", https, Referer="https://evil.example/")
    assert elsewhere.status_code == 400
    assert _rename(client, token, "Nowhere", https).status_code == 400
    assert "Again" in client.get("/profile", base_url=https).get_data(as_text=True)
