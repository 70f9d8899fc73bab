"""Fixtures and steps shared by the single sign-on tests: the test provider on loopback and an
app configured with it."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from coprod.accounts import oidc
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Served, TestProvider

SSO_DOMAIN = "skovby.example.dk"  # signs in through the provider only
OPEN_DOMAIN = "cafe.example.org"  # the provider's too, password log-in kept


@pytest.fixture(scope="session")
def provider_server():
    with Served(TestProvider()) as provider:
        yield provider


@pytest.fixture
def oidc_provider(provider_server):
    provider_server.reset()
    yield provider_server
    provider_server.reset()


def providers_setting(provider: TestProvider, **extra) -> str:
    return json.dumps([{
        "name": "skovby", "label": "Skovby Kommune", "issuer": provider.issuer,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "domains": {SSO_DOMAIN: {"organization": "Skovby Job Centre", "password_login": False},
                    OPEN_DOMAIN: {}},
        "mfa_amr": ["mfa"],
        **extra,
    }])


@pytest.fixture
def sso(app, oidc_provider, monkeypatch):
    """The session's app with the test provider as its identity provider "skovby"."""
    setting = providers_setting(oidc_provider)
    monkeypatch.setitem(app.config, "COPROD_OIDC_PROVIDERS", setting)
    monkeypatch.setitem(app.extensions, "coprod_oidc", oidc.registry(app, setting))
    return oidc_provider


def identity(email: str, sub: str | None = None, verified: bool = True, **claims) -> dict:
    return {"sub": sub or f"sub-{email}", "email": email, "email_verified": verified,
            "name": claims.pop("name", "Anna Andersen"), **claims}


def through_provider(client, provider: TestProvider, who: dict | None, next_url: str = ""):
    """Press "Sign in with Skovby Kommune", let the provider answer for `who`, and follow its
    redirect back: the response of Coprod's callback (or of the start, if it refused)."""
    provider.identity = who
    start = client.post("/login/sso/skovby" + (f"?next={next_url}" if next_url else ""))
    if start.status_code != 302:
        return start
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/login/sso/skovby/callback", answer.headers["Location"]
    return client.get(f"{back.path}?{back.query}")


def callback_query(client, provider: TestProvider, who: dict) -> str:
    """Start in `client` and let the provider answer, without going back: the callback's
    query (code and state) for someone to use."""
    provider.identity = who
    start = client.post("/login/sso/skovby")
    answer = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    return urlsplit(answer.headers["Location"]).query


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
