"""A log-out ends the log-in on the server: cookies captured before it (the session cookie, the
remember-me cookie) answer as logged out afterwards. Remember-me lasts REMEMBER_COOKIE_DAYS
after log-in, checked on the server, not only by the browser. Session protection sees the same
client address as the rate limits: a spoofed X-Forwarded-For changes nothing without
TRUST_PROXY_HEADERS."""

from __future__ import annotations

from datetime import timedelta

from coprod.extensions import login_manager
from tests.factories import PASSWORD

HOME = {"REMOTE_ADDR": "198.51.100.7"}
THIEF = {"REMOTE_ADDR": "203.0.113.66"}


def _log_in(client, user, **extra):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, **extra},
                           environ_base=HOME)
    assert response.status_code == 302
    return response


def _cookie(client, name: str) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _logged_in(client, environ=HOME) -> bool:
    return client.get("/profile", environ_base=environ).status_code == 200


def _browser_with(new_client, **cookies):
    client = new_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def test_a_session_cookie_captured_before_logout_is_logged_out_after_it(user, client,
                                                                        new_client):
    _log_in(client, user)
    captured = _cookie(client, "session")
    assert _logged_in(_browser_with(new_client, session=captured))
    client.post("/logout", environ_base=HOME)
    assert not _logged_in(client)
    assert not _logged_in(_browser_with(new_client, session=captured))


def test_a_remember_me_cookie_captured_before_logout_is_logged_out_after_it(user, client,
                                                                            new_client):
    _log_in(client, user, remember="y")
    captured = _cookie(client, "remember_token")
    assert _logged_in(_browser_with(new_client, remember_token=captured))
    client.post("/logout", environ_base=HOME)
    assert not _logged_in(_browser_with(new_client, remember_token=captured))


def test_remember_me_lasts_thirty_days_on_the_server_too(app, user, client, new_client,
                                                         monkeypatch):
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)
    response = _log_in(client, user, remember="y")
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("remember_token="))
    assert "Expires=" in cookie
    captured = _cookie(client, "remember_token")
    from coprod.accounts import sessions

    real_now = sessions.now()
    monkeypatch.setattr(sessions, "now", lambda: real_now + timedelta(days=29))
    assert _logged_in(_browser_with(new_client, remember_token=captured))
    monkeypatch.setattr(sessions, "now", lambda: real_now + timedelta(days=31))
    assert not _logged_in(_browser_with(new_client, remember_token=captured))


def test_a_spoofed_forwarded_for_does_not_change_the_session_identifier(app):
    generate = login_manager._session_identifier_generator
    with app.test_request_context("/", environ_base=THIEF):
        honest = generate()
    with app.test_request_context("/", environ_base=THIEF,
                                  headers={"X-Forwarded-For": HOME["REMOTE_ADDR"]}):
        spoofed = generate()
    with app.test_request_context("/", environ_base=HOME):
        at_home = generate()
    assert spoofed == honest != at_home


def test_a_stolen_session_cookie_cannot_pose_as_its_owners_address(user, client, new_client):
    """Strong session protection drops a session used from another address; a thief must not
    pass by claiming the owner's address in X-Forwarded-For."""
    _log_in(client, user)
    thief = _browser_with(new_client, session=_cookie(client, "session"))
    response = thief.get("/profile", environ_base=THIEF,
                         headers={"X-Forwarded-For": HOME["REMOTE_ADDR"]})
    assert response.status_code == 302
    assert _logged_in(client)
