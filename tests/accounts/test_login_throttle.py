"""No one can lock another person out of their account by failing to log in as them.

Failed log-ins are limited per (account, address) and per address; failures on one account
from everywhere only make it stricter for browsers that never logged in to it (each failure
then spends the whole per-(account, address) allowance): the owner is slowed, never blocked.
"""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, UserFactory

A, B = "192.0.2.1", "198.51.100.2"


@pytest.fixture
def owner(db):
    user = UserFactory(email="owner@example.org")
    db.session.commit()
    return user


def _attempt(client, email, password, address):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_an_attacker_failing_at_one_address_does_not_stop_the_owner_at_another(
        owner, client, new_client):
    answers = [_attempt(client, "Owner@example.org", f"guess {n}", A).status_code
               for n in range(12)]
    assert answers == [422] * 5 + [429] * 7
    assert _attempt(new_client(), owner.email, PASSWORD, B).status_code == 302


def test_the_attacker_at_that_address_is_throttled_even_with_the_right_password(
        owner, client):
    for n in range(5):
        assert _attempt(client, owner.email, f"guess {n}", A).status_code == 422
    limited = _attempt(client, owner.email, PASSWORD, A)
    assert limited.status_code == 429
    assert "Too many attempts. Wait 15 minutes and try again." in limited.text
    assert int(limited.headers["Retry-After"]) > 0


def test_the_per_address_limit_holds_across_accounts(db, owner, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ADDRESS", "6 per 15 minutes")
    for n in range(6):
        assert _attempt(client, f"spray{n}@example.org", "guess", A).status_code == 422
    assert _attempt(client, owner.email, PASSWORD, A).status_code == 429
    assert _attempt(client, owner.email, PASSWORD, B).status_code == 302


def test_under_a_distributed_attack_the_owner_is_slowed_not_blocked(
        owner, app, new_client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "6 per 15 minutes")
    usual = new_client()  # the owner's own browser, logged in before the attack
    assert _attempt(usual, owner.email, PASSWORD, B).status_code == 302
    usual.post("/logout", environ_base={"REMOTE_ADDR": B})
    for bot in range(3):
        bot_client = new_client()
        for n in range(2):
            response = _attempt(bot_client, owner.email, f"guess {n}", f"203.0.113.{bot}")
            assert response.status_code == 422
    # 6 failures account-wide: a browser new to the account gets one failure per window ...
    newcomer = new_client()
    assert _attempt(newcomer, owner.email, "typo", "203.0.113.50").status_code == 422
    assert _attempt(newcomer, owner.email, PASSWORD, "203.0.113.50").status_code == 429
    # ... but a right password at the first try still logs in,
    assert _attempt(new_client(), owner.email, PASSWORD, "203.0.113.51").status_code == 302
    # and the owner's usual browser keeps its allowance: a typo, then in.
    assert _attempt(usual, owner.email, "typo", B).status_code == 422
    assert _attempt(usual, owner.email, "typo again", B).status_code == 422
    assert _attempt(usual, owner.email, PASSWORD, B).status_code == 302


def test_a_known_browser_for_one_account_is_a_newcomer_for_another(db, owner, app,
                                                                   new_client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "2 per 15 minutes")
    other = UserFactory(email="other@example.org")
    db.session.commit()
    browser = new_client()
    assert _attempt(browser, owner.email, PASSWORD, B).status_code == 302
    browser.post("/logout", environ_base={"REMOTE_ADDR": B})
    for address in ("203.0.113.7", "203.0.113.8"):
        assert _attempt(new_client(), other.email, "guess", address).status_code == 422
    assert _attempt(browser, other.email, "typo", B).status_code == 422
    assert _attempt(browser, other.email, PASSWORD, B).status_code == 429


def test_the_device_cookie_is_signed_and_kept_to_the_login_page(owner, app, new_client,
                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_ACCOUNT", "1 per 15 minutes")
    browser = new_client()
    response = _attempt(browser, owner.email, PASSWORD, B)
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("coprod_device="))
    assert "HttpOnly" in cookie and "Path=/login" in cookie and "SameSite=Lax" in cookie
    assert _attempt(new_client(), owner.email, "guess", A).status_code == 422
    forger = new_client()
    forger.set_cookie("coprod_device", "not-a-signed-value", path="/login")
    assert _attempt(forger, owner.email, "typo", B).status_code == 422
    assert _attempt(forger, owner.email, PASSWORD, B).status_code == 429


@pytest.fixture
def redis_down_app(app, tmp_path):
    """An app like the test's whose rate limits' Redis does not answer. The limiter is one
    object for every app, and making an app points it at that app's store: it is put back."""
    from coprod.extensions import limiter
    from tests.conftest import celery_back_to, dispose, make_app

    kept = dict(vars(limiter))
    other = make_app(tmp_path / "redis-down", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    yield other
    dispose(other)
    vars(limiter).clear()
    vars(limiter).update(kept)
    celery_back_to(app)


def test_with_the_limits_store_down_members_still_log_in_and_guessing_is_still_limited(
        owner, redis_down_app):
    """Redis down must not lock everyone out: the limits fall back to each worker's memory
    (Flask-Limiter's in-memory fallback), so they still hold, per worker."""
    client = redis_down_app.test_client()
    assert _attempt(client, owner.email, "wrong", A).status_code == 422
    assert _attempt(client, owner.email, PASSWORD, A).status_code == 302
    answers = [_attempt(redis_down_app.test_client(), owner.email, f"guess {n}", B).status_code
               for n in range(6)]
    assert answers == [422] * 5 + [429]
    forgot = client.post("/password/forgot", data={"email": owner.email},
                         environ_base={"REMOTE_ADDR": A})
    assert forgot.status_code == 302  # asking for a reset link works too


def test_only_the_views_with_limits_check_them(app, owner, client):
    """Coprod has no default, application or blueprint limit: Flask-Limiter's check before
    every request is off (coprod.extensions.check_limits_in_their_views), and the log-in,
    whose limits sit on its view, checks them itself."""
    from coprod.extensions import limiter

    assert limiter._check_request_limit not in app.before_request_funcs.get(None, [])
    answers = [_attempt(client, owner.email, f"guess {n}", A).status_code for n in range(6)]
    assert answers == [422] * 5 + [429]
