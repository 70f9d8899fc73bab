"""Signing in through an OpenID Connect provider: a real provider (Authlib's server, on
loopback) answers; Coprod links the identity by verified email, checks state, nonce, PKCE,
issuer and audience, and refuses password log-in for the domains that sign in there."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from coprod.accounts import oidc
from coprod.accounts.credentials import UserIdentity
from coprod.accounts.models import User
from tests.accounts.sso import (
    OPEN_DOMAIN,
    SSO_DOMAIN,
    callback_query,
    identity,
    through_provider,
)
from tests.conftest import make_app
from tests.factories import PASSWORD, InvitationFactory, OrganizationFactory, UserFactory

ANNA = f"anna@{SSO_DOMAIN}"


def _logged_in_as(client) -> str | None:
    page = client.get("/profile")
    if page.status_code != 200:
        return None
    return next((u.email for u in User.query.all() if u.email in page.text), None)


def test_first_sign_in_links_the_account_with_the_verified_address(db, client, sso):
    organization = OrganizationFactory(name="Skovby Job Centre")
    user = UserFactory(email=ANNA)
    db.session.commit()

    answer = through_provider(client, sso, identity(ANNA, sub="anna-1"))

    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _logged_in_as(client) == ANNA
    linked = db.session.scalars(select(UserIdentity)).all()
    assert [(i.issuer, i.subject, i.user_id, i.organization_id) for i in linked] == [
        (sso.issuer, "anna-1", user.id, organization.id)]
    # The request carried state, nonce and an S256 PKCE challenge; the provider (which
    # requires PKCE) accepted the verifier at its token endpoint.
    request = sso.authorization_requests[0]
    assert request["code_challenge_method"] == "S256" and request["code_challenge"]
    assert request["state"] and request["nonce"]
    assert "code_verifier" in sso.token_requests[0]


def test_later_sign_ins_find_the_account_by_its_identity_whatever_the_address(
        db, client, new_client, sso):
    user = UserFactory(email=ANNA)
    db.session.commit()
    assert through_provider(client, sso, identity(ANNA, sub="anna-1")).status_code == 302

    other = new_client()
    renamed = identity(f"anna.andersen@{SSO_DOMAIN}", sub="anna-1")
    assert through_provider(other, sso, renamed).status_code == 302
    assert _logged_in_as(other) == ANNA
    assert db.session.scalar(select(UserIdentity.user_id)) == user.id
    assert db.session.query(User).count() == 1


def test_an_address_without_an_account_gets_one_without_a_password(db, client, sso):
    answer = through_provider(client, sso, identity(f"new@{OPEN_DOMAIN}", name="Nina Ny"))
    assert answer.status_code == 302
    user = db.session.scalar(select(User).where(User.email == f"new@{OPEN_DOMAIN}"))
    assert user.display_name == "Nina Ny" and user.password_hash is None
    assert _logged_in_as(client) == f"new@{OPEN_DOMAIN}"


def test_an_unverified_address_is_not_linked(db, client, sso):
    UserFactory(email=ANNA)
    db.session.commit()
    answer = through_provider(client, sso, identity(ANNA, verified=False))
    assert answer.status_code == 403
    assert "has not confirmed your email address" in answer.text
    assert db.session.scalars(select(UserIdentity)).all() == []
    assert _logged_in_as(client) is None


def test_an_address_outside_the_providers_domains_is_refused(db, client, sso):
    UserFactory(email="anna@elsewhere.example.com")
    db.session.commit()
    answer = through_provider(client, sso, identity("anna@elsewhere.example.com"))
    assert answer.status_code == 403
    assert f"signs in addresses at {OPEN_DOMAIN}, {SSO_DOMAIN} only" in answer.text
    assert _logged_in_as(client) is None


def test_a_deactivated_account_cannot_sign_in(db, client, sso):
    UserFactory(email=ANNA, is_active=False)
    db.session.commit()
    answer = through_provider(client, sso, identity(ANNA))
    assert answer.status_code == 403 and "deactivated" in answer.text
    assert _logged_in_as(client) is None


def test_an_answer_to_a_sign_in_this_browser_did_not_start_is_refused(
        db, client, new_client, sso):
    UserFactory(email=ANNA)
    db.session.commit()
    query = callback_query(client, sso, identity(ANNA))

    victim = new_client()  # login CSRF: someone else's code pushed into another browser
    answer = victim.get(f"/login/sso/skovby/callback?{query}")
    assert answer.status_code == 400 and "did not complete" in answer.text
    assert _logged_in_as(victim) is None

    assert client.get(f"/login/sso/skovby/callback?{query}").status_code == 302
    replay = client.get(f"/login/sso/skovby/callback?{query}")  # the state is spent
    assert replay.status_code == 400


@pytest.mark.parametrize("claim, value", [("nonce", "not-the-nonce-we-sent"),
                                          ("aud", "another-client"),
                                          ("iss", "http://127.0.0.1:1")])
def test_an_id_token_with_another_nonce_audience_or_issuer_is_refused(
        db, client, sso, claim, value):
    UserFactory(email=ANNA)
    db.session.commit()
    sso.tamper = {claim: value}
    answer = through_provider(client, sso, identity(ANNA))
    assert answer.status_code == 400
    assert "could not be verified" in answer.text
    assert _logged_in_as(client) is None
    assert db.session.scalars(select(UserIdentity)).all() == []


def test_a_provider_whose_discovery_names_another_issuer_is_not_used(db, client, sso):
    sso.discovery_issuer = "http://127.0.0.1:1"
    answer = client.post("/login/sso/skovby")
    assert answer.status_code == 502
    assert "Skovby Kommune is not set up correctly" in answer.text
    assert sso.authorization_requests == []


def test_password_log_in_is_refused_where_the_domain_signs_in_through_its_provider(
        db, client, new_client, sso):
    UserFactory(email=ANNA)
    UserFactory(email=f"jonas@{OPEN_DOMAIN}")
    db.session.commit()
    refused = client.post("/login", data={"email": "Anna@" + SSO_DOMAIN.upper(),
                                          "password": PASSWORD})
    assert refused.status_code == 422
    assert (f"Accounts at {SSO_DOMAIN} sign in with Skovby Kommune: use the button "
            "“Sign in with Skovby Kommune” below.") in refused.text
    assert "Sign in with Skovby Kommune</button>" in refused.text
    assert _logged_in_as(client) is None
    kept = new_client().post("/login", data={"email": f"jonas@{OPEN_DOMAIN}",
                                             "password": PASSWORD})
    assert kept.status_code == 302


def test_the_log_in_page_offers_each_provider_as_a_button_posting_with_csrf(client, sso):
    page = client.get("/login?next=/profile")
    assert page.status_code == 200
    assert 'action="/login/sso/skovby?next=/profile"' in page.text
    assert "Sign in with Skovby Kommune" in page.text
    assert client.get("/login/sso/skovby").status_code == 405  # a link starts nothing
    assert client.post("/login/sso/nobody").status_code == 404


def test_the_sign_in_goes_back_to_the_page_asked_for(db, client, sso):
    UserFactory(email=ANNA)
    db.session.commit()
    answer = through_provider(client, sso, identity(ANNA), next_url="/profile")
    assert answer.headers["Location"] == "/profile"


def test_an_invitation_to_a_provider_domain_joins_through_the_provider(db, client, sso):
    invitation = InvitationFactory(email=ANNA)
    db.session.commit()
    from coprod.accounts import operations

    link = f"/invitations/{operations.invitation_token(invitation)}"
    page = client.get(link)
    assert "Sign in with Skovby Kommune" in page.text
    assert "Choose a password" not in page.text

    answer = through_provider(client, sso, identity(ANNA), next_url=link)
    assert answer.headers["Location"] == link
    accept = client.get(link)
    assert "Accept and join" in accept.text


def test_the_provider_settings_are_checked_when_the_app_starts(monkeypatch, tmp_path):
    good = {"name": "kommune", "issuer": "https://login.example.dk", "client_id": "c",
            "domains": ["example.dk"]}
    monkeypatch.setenv("COPROD_OIDC_KOMMUNE_CLIENT_SECRET", "from-the-environment")
    [provider] = oidc.parse_providers(json.dumps([good]))
    assert provider.client_secret == "from-the-environment"
    assert provider.domains["example.dk"].password_login is True
    assert oidc.parse_providers("") == []
    bad = [
        ("not json", "not JSON"),
        (json.dumps([{**good, "name": "Kommune 1"}]), ".name"),
        (json.dumps([{**good, "domains": {}}]), "name at least one email domain"),
        (json.dumps([good, {**good, "name": "other", "client_secret": "s"}]),
         "example.dk is both"),
        (json.dumps([{**good, "domains": {"example.dk": {"password_login": "no"}}}]),
         "true or false"),
    ]
    for raw, message in bad:
        with pytest.raises(oidc.ProviderSettingsError, match=message):
            oidc.parse_providers(raw)
    monkeypatch.delenv("COPROD_OIDC_KOMMUNE_CLIENT_SECRET")
    with pytest.raises(oidc.ProviderSettingsError, match="COPROD_OIDC_KOMMUNE_CLIENT_SECRET"):
        make_app(tmp_path, COPROD_OIDC_PROVIDERS=json.dumps([good]))


def test_a_provider_that_says_no_signs_nobody_in(client, sso):
    client.post("/login/sso/skovby")
    answer = client.get("/login/sso/skovby/callback?error=access_denied&state=x")
    assert answer.status_code == 400
    assert "Signing in with Skovby Kommune did not complete. Try again." in answer.text
    assert _logged_in_as(client) is None
