"""Password reset by email: one answer for every address, a link that works once, then logged
in with the new password; limited per address."""

from __future__ import annotations

import re
from datetime import timedelta

from freezegun import freeze_time

from coprod.accounts.models import User
from coprod.common import utcnow
from tests.conftest import text_of
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "a brand new password"
SENT = "If an account exists for the address you entered, we sent it a link"


def _ask_for_link(client, email: str):
    response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 302
    return client.get(response.headers["Location"])


def _reset_path(outbox, email: str) -> str:
    body = text_of(outbox.last_to(email))
    return re.search(r"http://localhost(/password/reset/\S+)", body).group(1)


def test_reset_end_to_end_through_the_email(db, client, outbox, new_client):
    user = UserFactory(email="mette@example.org")
    db.session.commit()

    page = _ask_for_link(client, "Mette@Example.org")
    assert SENT in page.text
    message = outbox.last_to("mette@example.org")
    assert message["Subject"] == "Reset your Coprod password"
    path = _reset_path(outbox, "mette@example.org")

    form = client.get(path)
    assert form.status_code == 200
    assert "Choose a new password" in form.text
    response = client.post(path, data={"password": NEW_PASSWORD,
                                       "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/profile").status_code == 200  # logged in

    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    # The old password no longer opens the account; the new one does.
    other = new_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}
                      ).status_code == 422


def test_unknown_email_gets_the_same_page_and_no_email(db, client, outbox):
    known = UserFactory(email="known@example.org")
    db.session.commit()
    unknown_page = _ask_for_link(client, "nobody@example.org")
    known_page = _ask_for_link(client, known.email)
    assert unknown_page.text == known_page.text
    assert SENT in unknown_page.text
    recipients = [m["To"] for m in outbox.messages()]
    assert recipients == ["known@example.org"]


def test_inactive_account_gets_no_email(db, client, outbox):
    UserFactory(email="off@example.org", is_active=False)
    db.session.commit()
    assert SENT in _ask_for_link(client, "off@example.org").text
    assert outbox.messages() == []


def test_reset_link_works_once(db, client, outbox):
    UserFactory(email="once@example.org")
    db.session.commit()
    _ask_for_link(client, "once@example.org")
    path = _reset_path(outbox, "once@example.org")
    assert client.post(path, data={"password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD}).status_code == 302

    again = client.get(path)
    assert again.status_code == 410
    assert "This reset link is not valid any more. Ask for a new one." in again.text
    assert 'href="/password/forgot"' in again.text
    assert client.post(path, data={"password": "yet another password",
                                   "password_confirm": "yet another password"}
                       ).status_code == 410


def test_expired_reset_link_shows_a_clear_message(db, client, outbox, app):
    UserFactory(email="slow@example.org")
    db.session.commit()
    _ask_for_link(client, "slow@example.org")
    path = _reset_path(outbox, "slow@example.org")
    minutes = app.config["PASSWORD_RESET_MAX_AGE_MINUTES"]
    later = utcnow() + timedelta(minutes=minutes + 1)
    with freeze_time(later):
        response = client.get(path)
    assert response.status_code == 410
    assert "This reset link is not valid any more" in response.text


def test_weak_or_mismatched_new_password_is_refused_next_to_the_field(db, client, outbox):
    user = UserFactory(email="weak@example.org")
    db.session.commit()
    _ask_for_link(client, "weak@example.org")
    path = _reset_path(outbox, "weak@example.org")
    short = client.post(path, data={"password": "short", "password_confirm": "short"})
    assert short.status_code == 422
    assert re.search(r'id="password-error">Use at least 10 characters', short.text)
    differ = client.post(path, data={"password": NEW_PASSWORD,
                                     "password_confirm": NEW_PASSWORD + "!"})
    assert differ.status_code == 422
    assert "The passwords differ." in differ.text
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)
    # The link was not spent by the refused attempts.
    assert client.get(path).status_code == 200


def test_tampered_reset_link_is_refused(db, client):
    response = client.get("/password/reset/forged.token.value")
    assert response.status_code == 410
    assert "This reset link is not valid any more" in response.text


def test_reset_requests_are_limited_per_address(db, client, app, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "RATELIMIT_PASSWORD_RESET_PER_ADDRESS", "2 per hour")
    for n in range(2):
        assert client.post("/password/forgot", data={"email": f"p{n}@example.org"},
                           environ_base={"REMOTE_ADDR": "10.3.3.3"}).status_code == 302
    limited = client.post("/password/forgot", data={"email": "p9@example.org"},
                          environ_base={"REMOTE_ADDR": "10.3.3.3"})
    assert limited.status_code == 429
    assert "Too many attempts. Wait 60 minutes and try again." in limited.text
    assert 'value="p9@example.org"' in limited.text  # the normal form, filled in
    assert client.post("/password/forgot", data={"email": "p9@example.org"},
                       environ_base={"REMOTE_ADDR": "10.4.4.4"}).status_code == 302


def test_reset_requests_are_limited_per_account(db, client, app, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT", "2 per hour")
    for n in range(2):
        assert client.post("/password/forgot", data={"email": "flooded@example.org"},
                           environ_base={"REMOTE_ADDR": f"10.5.5.{n}"}).status_code == 302
    limited = client.post("/password/forgot", data={"email": "FLOODED@example.org"},
                          environ_base={"REMOTE_ADDR": "10.5.5.9"})
    assert limited.status_code == 429


def test_only_posts_count_against_the_limit(db, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PASSWORD_RESET_PER_ADDRESS", "1 per hour")
    for _ in range(3):
        assert client.get("/password/forgot").status_code == 200
    assert client.post("/password/forgot", data={"email": "a@example.org"}).status_code == 302
    assert client.post("/password/forgot", data={"email": "b@example.org"}).status_code == 429
