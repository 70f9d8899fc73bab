"""Log-ins are rows on the server: the profile lists them, and each can be ended on its own,
remember-me cookies included, while the account's other devices stay logged in."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from coprod.accounts.sessions import UserSession
from tests.factories import PASSWORD, UserFactory

FIREFOX = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/126.0 Mobile Safari/537.36"}


def _log_in(client, user, headers, remember=False):
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, headers=headers)
    assert response.status_code == 302
    return response


def _rows(db, user) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.id)))


def _logged_in(client, headers) -> bool:
    return client.get("/profile", headers=headers).status_code == 200


def test_each_log_in_is_a_row_listed_on_the_profile(db, user, client, new_client):
    _log_in(client, user, FIREFOX)
    phone = new_client()
    _log_in(phone, user, PHONE, remember=True)
    laptop, mobile = _rows(db, user)
    assert (laptop.remember, mobile.remember) == (False, True)
    assert laptop.user_agent == FIREFOX["User-Agent"]
    assert laptop.address == "127.0.0.1"
    assert (mobile.expires_at - mobile.created_at).days == 30

    page = client.get("/profile", headers=FIREFOX).text
    assert "Firefox on Linux" in page and "Chrome on Android" in page
    rows = dict(re.findall(r'<tr id="session-(\d+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {str(laptop.id), str(mobile.id)}
    assert "This device" in rows[str(laptop.id)] and "This device" not in rows[str(mobile.id)]
    # The secret lives in the cookie only; the server keeps its digest.
    assert client.get_cookie("session") is not None
    assert len(laptop.secret_hash) == 64


def test_log_out_another_device_keeps_this_one(db, user, client, new_client):
    _log_in(client, user, FIREFOX)
    phone = new_client()
    _log_in(phone, user, PHONE, remember=True)
    remember = phone.get_cookie("remember_token").value
    _laptop, mobile = _rows(db, user)

    response = client.post(f"/profile/sessions/{mobile.id}/end", headers=FIREFOX,
                           follow_redirects=True)
    assert "That device is logged out." in response.text
    assert _logged_in(client, FIREFOX)
    assert not _logged_in(phone, PHONE)
    # Its remember-me cookie is ended too, not only its session cookie.
    thief = new_client()
    thief.set_cookie("remember_token", remember)
    assert not _logged_in(thief, PHONE)
    assert len(_rows(db, user)) == 1


def test_log_out_this_device_from_the_list(db, user, client, new_client):
    _log_in(client, user, FIREFOX)
    phone = new_client()
    _log_in(phone, user, PHONE)
    laptop, _mobile = _rows(db, user)
    response = client.post(f"/profile/sessions/{laptop.id}/end", headers=FIREFOX)
    assert response.status_code == 302 and response.location.endswith("/login")
    assert not _logged_in(client, FIREFOX)
    assert _logged_in(phone, PHONE)


def test_log_out_everywhere_else(db, user, client, new_client):
    _log_in(client, user, FIREFOX)
    others = [new_client() for _ in range(2)]
    for other in others:
        _log_in(other, user, PHONE, remember=True)
    response = client.post("/profile/sessions/end-others", headers=FIREFOX,
                           follow_redirects=True)
    assert "2 other sessions are logged out." in response.text
    assert _logged_in(client, FIREFOX)
    assert not any(_logged_in(other, PHONE) for other in others)
    assert len(_rows(db, user)) == 1


def test_the_log_out_button_ends_only_this_device(db, user, client, new_client):
    _log_in(client, user, FIREFOX)
    phone = new_client()
    _log_in(phone, user, PHONE)
    client.post("/logout", headers=FIREFOX)
    assert not _logged_in(client, FIREFOX)
    assert _logged_in(phone, PHONE)


def test_another_accounts_session_cannot_be_ended(db, user, client, new_client):
    stranger = UserFactory()
    db.session.commit()
    theirs = new_client()
    _log_in(theirs, stranger, PHONE)
    (their_row,) = _rows(db, stranger)
    _log_in(client, user, FIREFOX)
    assert client.post(f"/profile/sessions/{their_row.id}/end",
                       headers=FIREFOX).status_code == 404
    assert _logged_in(theirs, PHONE)


def test_ending_sessions_is_post_only(db, user, client):
    _log_in(client, user, FIREFOX)
    (row,) = _rows(db, user)
    assert client.get(f"/profile/sessions/{row.id}/end", headers=FIREFOX).status_code == 405
    assert client.get("/profile/sessions/end-others", headers=FIREFOX).status_code == 405
    assert _logged_in(client, FIREFOX)


def test_a_new_password_ends_the_other_sessions_and_keeps_this_one(db, user, client,
                                                                     new_client):
    _log_in(client, user, FIREFOX)
    phone = new_client()
    _log_in(phone, user, PHONE, remember=True)
    new = "another long password"
    client.post("/profile/password", headers=FIREFOX, data={
        "current_password": PASSWORD, "new_password": new, "new_password_confirm": new})
    assert _logged_in(client, FIREFOX)
    assert not _logged_in(phone, PHONE)
    assert len(_rows(db, user)) == 1


def test_last_seen_is_kept_without_a_write_per_request(db, user, client, monkeypatch):
    from datetime import timedelta

    from coprod.accounts import sessions
    from tests.conftest import statements_run

    _log_in(client, user, FIREFOX)
    (row,) = _rows(db, user)
    first_seen = row.last_seen_at
    with statements_run(db) as run:
        client.get("/profile", headers=FIREFOX)
    assert not any(s.lstrip().upper().startswith("UPDATE USER_SESSIONS") for s in run)
    later = sessions.now() + timedelta(minutes=5)
    monkeypatch.setattr(sessions, "now", lambda: later)
    client.get("/profile", headers=FIREFOX)
    (row,) = _rows(db, user)
    assert row.last_seen_at == later > first_seen


def test_expired_rows_go_at_the_next_log_in(db, user, client, new_client, monkeypatch):
    from datetime import timedelta

    from coprod.accounts import sessions

    _log_in(client, user, FIREFOX)
    later = sessions.now() + timedelta(days=31)
    monkeypatch.setattr(sessions, "now", lambda: later)
    assert not _logged_in(client, FIREFOX)
    _log_in(new_client(), user, PHONE)
    assert db.session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id)) == 1


def test_a_password_reset_ends_every_session_of_the_account(db, user, client, new_client,
                                                            outbox):
    """Whoever had the old password (and is logged in with it) is logged out by a reset."""
    _log_in(client, user, FIREFOX, remember=True)
    resetting = new_client()
    resetting.post("/password/forgot", data={"email": user.email})
    link = re.search(r"http://localhost(/password/reset/\S+)",
                     outbox.last_to(user.email).get_body(("plain",)).get_content()).group(1)
    new = "another long password"
    assert resetting.post(link, data={"password": new,
                                      "password_confirm": new}).status_code == 302
    assert not _logged_in(client, FIREFOX)
    assert resetting.get("/profile").status_code == 200
    assert len(_rows(db, user)) == 1
