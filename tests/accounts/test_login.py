"""Logging in and out: one answer for every wrong credential, fresh sessions, POST-only log-out,
rate limits per (account, address) and per address (tests/accounts/test_login_throttle.py),
and CSRF on the form."""

from __future__ import annotations

import re

import pytest

from coprod.accounts import models
from tests.factories import PASSWORD, UserFactory

GENERIC_FAILURE = "Wrong email or password."


class _CountingHasher:
    """Wraps the argon2 hasher and notes every verification."""

    def __init__(self, real, seen: list):
        self.real, self.seen = real, seen

    def verify(self, hash_, password):
        self.seen.append(hash_)
        return self.real.verify(hash_, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _post_login(client, email, password, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def _is_logged_in(client) -> bool:
    response = client.get("/profile")
    return response.status_code == 200


def test_login_with_right_password_lands_on_dashboard(db, client):
    user = UserFactory()
    db.session.commit()
    response = _post_login(client, user.email, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/profile")
    assert page.status_code == 200
    assert user.email in page.get_data(as_text=True)
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_email_is_matched_without_case_or_spaces(db, client):
    UserFactory(email="anna@example.org")
    db.session.commit()
    response = _post_login(client, "  Anna@Example.ORG ", PASSWORD)
    assert response.status_code == 302


def test_unknown_email_and_wrong_password_get_the_same_answer(db, client, monkeypatch):
    user = UserFactory(email="known@example.org")
    db.session.commit()
    verifications = []
    monkeypatch.setattr(models, "_hasher", _CountingHasher(models._hasher, verifications))

    wrong_password = _post_login(client, user.email, "not the password")
    unknown_email = _post_login(client, "nobody@example.org", "not the password")

    assert wrong_password.status_code == unknown_email.status_code == 422
    assert GENERIC_FAILURE in wrong_password.get_data(as_text=True)
    # The pages differ only by the address typed back into the field.
    assert (wrong_password.get_data(as_text=True).replace(user.email, "EMAIL")
            == unknown_email.get_data(as_text=True).replace("nobody@example.org", "EMAIL"))
    # Both paths verify one password hash, so they take the same time.
    assert len(verifications) == 2
    assert not _is_logged_in(client)


def test_inactive_user_cannot_log_in(db, client):
    user = UserFactory(is_active=False)
    db.session.commit()
    wrong = _post_login(client, user.email, "not the password")
    assert GENERIC_FAILURE in wrong.get_data(as_text=True)
    right = _post_login(client, user.email, PASSWORD)
    assert right.status_code == 422
    assert "deactivated" in right.get_data(as_text=True)
    assert not _is_logged_in(client)


def test_session_cookie_is_httponly_and_samesite_lax(db, client):
    user = UserFactory()
    db.session.commit()
    response = _post_login(client, user.email, PASSWORD, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    remember_cookie = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session_cookie, remember_cookie):
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # BASE_URL of the tests is plain http


def test_remember_me_keeps_the_user_after_the_session_cookie_is_gone(db, client):
    user = UserFactory()
    db.session.commit()
    _post_login(client, user.email, PASSWORD, remember="y")
    client.delete_cookie("session")
    assert _is_logged_in(client)


def test_without_remember_me_no_remember_cookie(db, client):
    user = UserFactory()
    db.session.commit()
    response = _post_login(client, user.email, PASSWORD)
    assert not any(c.startswith("remember_token=")
                   for c in response.headers.getlist("Set-Cookie"))


def test_session_is_renewed_at_login(db, client):
    user = UserFactory()
    db.session.commit()
    with client.session_transaction() as sess:
        sess["planted_before_login"] = "attacker's value"
    _post_login(client, user.email, PASSWORD)
    with client.session_transaction() as sess:
        assert "planted_before_login" not in sess
        assert sess["_user_id"].startswith(user.get_id() + ":")  # and when: login_id()


@pytest.mark.parametrize("next_url, expected", [
    ("/profile", "/profile"),
    ("/c/1?tab=charter", "/c/1?tab=charter"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_is_honoured_only_for_paths_on_this_site(db, client, next_url, expected):
    user = UserFactory()
    db.session.commit()
    response = client.post("/login", query_string={"next": next_url},
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_required_page_comes_back_after_login(db, client):
    user = UserFactory()
    db.session.commit()
    response = client.get("/profile")
    assert response.status_code == 302
    login_page = client.get(response.headers["Location"])
    assert 'action="/login?next=/profile"' in login_page.get_data(as_text=True)
    response = client.post("/login?next=%2Fprofile",
                           data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/profile"


def test_logout_by_get_does_nothing(db, client, login):
    user = UserFactory()
    db.session.commit()
    login(user)
    assert client.get("/logout").status_code == 405
    assert _is_logged_in(client)


def test_logout_by_post_ends_the_session(db, client, login):
    user = UserFactory()
    db.session.commit()
    login(user)
    response = client.post("/logout", follow_redirects=True)
    assert "You are logged out." in response.get_data(as_text=True)
    assert not _is_logged_in(client)


def test_logout_also_ends_remember_me(db, client, login):
    user = UserFactory()
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    response = client.post("/logout")
    assert any(c.startswith("remember_token=;") for c in response.headers.getlist("Set-Cookie"))
    assert not _is_logged_in(client)


def test_login_page_lang_follows_browser_then_user(db, client, login):
    page = client.get("/login", headers={"Accept-Language": "da, en;q=0.5"})
    assert '<html lang="da">' in page.get_data(as_text=True)
    user = UserFactory(locale="en")
    db.session.commit()
    login(user)
    page = client.get("/profile", headers={"Accept-Language": "da"})
    assert '<html lang="en">' in page.get_data(as_text=True)


# -- rate limits ----------------------------------------------------------------------------

def test_failed_attempts_per_account_and_address_are_limited(db, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS",
                        "3 per 15 minutes")
    UserFactory(email="target@example.org")
    db.session.commit()
    for _ in range(3):
        assert _post_login(client, "Target@example.org", "guess").status_code == 422
    # The key is the account, lower-cased, and the address.
    limited = client.post("/login", data={"email": "TARGET@example.org", "password": PASSWORD})
    assert limited.status_code == 429
    page = limited.get_data(as_text=True)
    assert "Too many attempts. Wait 15 minutes and try again." in page
    assert '<form method="post"' in page  # the normal log-in page, not a bare error
    assert 'value="TARGET@example.org"' in page
    assert int(limited.headers["Retry-After"]) > 0
    assert not _is_logged_in(client)
    # Other accounts, and this account from another address, are not affected.
    other = UserFactory()
    db.session.commit()
    assert _post_login(client, other.email, PASSWORD).status_code == 302
    elsewhere = client.post("/login", data={"email": "target@example.org",
                                            "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 302


def test_successful_logins_do_not_count(db, app, new_client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS",
                        "2 per 15 minutes")
    user = UserFactory()
    db.session.commit()
    for _ in range(4):
        fresh = new_client()
        assert _post_login(fresh, user.email, PASSWORD).status_code == 302


def test_form_errors_without_a_password_do_not_count(db, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS",
                        "2 per 15 minutes")
    user = UserFactory()
    db.session.commit()
    for _ in range(3):
        assert _post_login(client, user.email, "").status_code == 422
    assert _post_login(client, user.email, PASSWORD).status_code == 302


def test_failed_attempts_per_address_are_limited(db, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ADDRESS", "4 per 15 minutes")
    user = UserFactory()
    db.session.commit()
    for n in range(4):
        response = client.post("/login", data={"email": f"spray{n}@example.org",
                                                "password": "guess"},
                               environ_base={"REMOTE_ADDR": "10.1.1.1"})
        assert response.status_code == 422
    limited = client.post("/login", data={"email": user.email, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    # Another address may still log in to the same account.
    elsewhere = client.post("/login", data={"email": user.email, "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.2.2.2"})
    assert elsewhere.status_code == 302


# -- CSRF -----------------------------------------------------------------------------------

def test_login_without_csrf_token_is_refused_with_a_clear_page(db, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = UserFactory()
    db.session.commit()
    refused = _post_login(client, user.email, PASSWORD)
    assert refused.status_code == 400
    assert "The form expired or was sent from elsewhere" in refused.get_data(as_text=True)
    assert not _is_logged_in(client)

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = _post_login(client, user.email, PASSWORD, csrf_token=token)
    assert accepted.status_code == 302
    assert _is_logged_in(client)


def test_logout_without_csrf_token_is_refused(db, client, app, login, monkeypatch):
    user = UserFactory()
    db.session.commit()
    login(user)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert "Reload the page and try again." in refused.text
    assert _is_logged_in(client)
