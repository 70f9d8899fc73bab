"""Only a personal access token opens the API: no token, a bad one or a revoked one is 401,
and a browser's login cookie is not a token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import ApiToken
from coprod.accounts.operations import create_token, revoke_token
from tests.factories import UserFactory


def _token_of(db, user, name: str):
    """A committed token of the user and the headers that send it."""
    token, secret = create_token(user, name)
    db.session.commit()
    return token, {"Authorization": f"Bearer {secret}"}


def _assert_401(response):
    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized"
    assert body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer cpd_not-a-real-token"},
    {"Authorization": "Bearer not-even-our-prefix"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
])
def test_missing_or_invalid_token_is_401(client, db, headers):
    _assert_401(client.get("/api/v1/me", headers=headers))


def test_a_bad_token_is_named_invalid_token(client, db):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer cpd_nope"})
    _assert_401(response)
    challenge = response.headers["WWW-Authenticate"]
    assert re.search(r'error="?invalid_token"?', challenge), challenge


def test_valid_token_answers_as_its_user_and_records_its_use(client, db):
    user = UserFactory(email="ada@example.org", display_name="Ada")
    _token, headers = _token_of(db, user, "script")
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"id": user.id, "email": "ada@example.org",
                                   "display_name": "Ada", "locale": "en",
                                   "timezone": "Europe/Copenhagen"}
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.last_used_at is not None


def test_revoked_token_is_401(client, db):
    user = UserFactory()
    token, headers = _token_of(db, user, "script")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    revoke_token(policy.actor_for(user), token)
    db.session.commit()
    _assert_401(client.get("/api/v1/me", headers=headers))


def test_token_of_a_deactivated_user_is_401(client, db, bearer):
    user = UserFactory()
    headers = bearer(user)
    user.is_active = False
    db.session.commit()
    _assert_401(client.get("/api/v1/me", headers=headers))


def test_login_cookie_does_not_authenticate_the_api(client, db, login, bearer):
    user = UserFactory()
    db.session.commit()
    login(user)
    assert client.get("/profile").status_code == 200  # the cookie is a working web session
    response = client.get("/api/v1/me")
    _assert_401(response)
    assert "Set-Cookie" not in response.headers


def test_token_user_wins_over_a_login_cookie(client, db, login, bearer):
    cookie_user, token_user = UserFactory(), UserFactory()
    db.session.commit()
    login(cookie_user)
    response = client.get("/api/v1/me", headers=bearer(token_user))
    assert response.get_json()["id"] == token_user.id


def test_api_is_csrf_exempt(app, client, db, bearer, monkeypatch):
    """A token is not sent by browsers on their own, so there is no cross-site request."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post("/api/v1/tokens", json={"name": "ci"}, headers=bearer(UserFactory()))
    assert response.status_code == 201, response.get_json()
    # the same app refuses a form post without its CSRF token
    assert client.post("/logout").status_code == 400


def test_a_token_records_its_use_once_a_minute_not_on_every_call(client, db):
    """A script polling the API costs no write per call: last_used_at moves once a minute."""
    user = UserFactory()
    token, headers = _token_of(db, user, "poller")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.expire_all()
    first = token.last_used_at
    assert first is not None
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.expire_all()
    assert token.last_used_at == first
    token.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.expire_all()
    assert token.last_used_at > first
