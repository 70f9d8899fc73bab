"""The profile: name, language and time zone; changing the password; logging out everywhere."""

from __future__ import annotations

import re

from coprod.accounts.models import User
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "another good password"


def _logged_in_user(db, login, **kwargs) -> User:
    user = UserFactory(**kwargs)
    db.session.commit()
    assert login(user).status_code == 302
    return user


def test_profile_needs_login(db, client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_profile_shows_the_current_values(db, client, login):
    _logged_in_user(db, login, display_name="Birgitte Nyborg", email="b@example.org",
                    locale="da", timezone="Europe/Copenhagen")
    page = client.get("/profile")
    assert page.status_code == 200
    assert 'value="Birgitte Nyborg"' in page.text
    assert "b@example.org" in page.text
    assert '<option selected value="da">Dansk</option>' in page.text
    assert '<option selected value="Europe/Copenhagen">' in page.text
    assert '<html lang="da">' in page.text
    for label in ('for="display_name"', 'for="locale"', 'for="timezone"',
                  'for="current_password"', 'for="new_password"', 'for="name"'):
        assert label in page.text


def test_update_profile(db, client, login):
    user = _logged_in_user(db, login, locale="en", timezone="UTC")
    response = client.post("/profile", data={"display_name": "  Katrine Fønsmark ",
                                             "locale": "da", "timezone": "Europe/Helsinki"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Din profil er gemt." in page.text  # told in the language just chosen
    assert '<html lang="da">' in page.text
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.display_name, user.locale, user.timezone) == (
        "Katrine Fønsmark", "da", "Europe/Helsinki")


def test_invalid_profile_is_refused_next_to_the_field(db, client, login):
    user = _logged_in_user(db, login, display_name="Kasper", timezone="UTC")
    response = client.post("/profile", data={"display_name": "Kasper Juul",
                                             "locale": "xx", "timezone": "Nowhere/Land"})
    assert response.status_code == 422
    assert 'id="locale-error"' in response.text
    assert 'id="timezone-error"' in response.text
    assert 'value="Kasper Juul"' in response.text  # what was typed stays
    db.session.expire_all()
    assert db.session.get(User, user.id).display_name == "Kasper"


def test_change_password_keeps_this_session_and_ends_the_others(db, client, login,
                                                                 new_client):
    user = _logged_in_user(db, login)
    other_device = new_client()
    other_device.post("/login", data={"email": user.email, "password": PASSWORD})
    assert other_device.get("/profile").status_code == 200

    response = client.post("/profile/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    page = client.get("/profile")
    assert page.status_code == 200
    assert "Your password is changed. Your other sessions are logged out." in page.text

    assert other_device.get("/profile").status_code == 302  # logged out
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(NEW_PASSWORD)


def test_change_password_keeps_remember_me(db, client, new_client):
    user = UserFactory()
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    response = client.post("/profile/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    client.delete_cookie("session")  # this log-in's remember-me cookie still works
    assert client.get("/profile").status_code == 200


def test_change_password_needs_the_current_one(db, client, login):
    user = _logged_in_user(db, login)
    response = client.post("/profile/password", data={
        "current_password": "wrong one", "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert re.search(r'id="current_password-error">This is not your current password',
                     response.text)
    db.session.expire_all()
    assert db.session.get(User, user.id).check_password(PASSWORD)
    assert client.get("/profile").status_code == 200


def test_new_passwords_must_match(db, client, login):
    _logged_in_user(db, login)
    response = client.post("/profile/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD,
        "new_password_confirm": "something else entirely"})
    assert response.status_code == 422
    assert re.search(r'id="new_password_confirm-error">The passwords differ', response.text)


def _session_rows(db, user) -> int:
    from sqlalchemy import func, select

    from coprod.accounts.sessions import UserSession

    return db.session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id))


def test_log_out_everywhere(db, client, login, new_client):
    user = _logged_in_user(db, login)
    other_device = new_client()
    other_device.post("/login", data={"email": user.email, "password": PASSWORD,
                                      "remember": "y"})
    assert _session_rows(db, user) == 2

    response = client.post("/profile/sessions/end", follow_redirects=True)
    assert "You are logged out on every device." in response.text
    assert client.get("/profile").status_code == 302
    other_device.delete_cookie("session")  # the remember-me cookie alone is not enough
    assert other_device.get("/profile").status_code == 302
    assert _session_rows(db, user) == 0
    # Logging in again works as before.
    assert login(user).status_code == 302


def test_log_out_everywhere_is_post_only(db, client, login):
    _logged_in_user(db, login)
    assert client.get("/profile/sessions/end").status_code == 405
    assert client.get("/profile").status_code == 200
