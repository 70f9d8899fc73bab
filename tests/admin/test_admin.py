"""The admin area: administrators only (404 to anyone else), accounts searched, deactivated
(their live log-ins and API tokens stop at once) and reactivated, their sessions ended."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import ApiToken, User
from coprod.accounts.operations import create_token
from coprod.accounts.sessions import UserSession
from tests.factories import PASSWORD, UserFactory

PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36"}


@pytest.fixture
def admin(db):
    user = UserFactory(email="admin@example.org", is_admin=True)
    db.session.commit()
    return user


@pytest.fixture
def admin_client(admin, new_client):
    browser = new_client()
    response = browser.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def _log_in(client, user, **kwargs):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD},
                           **kwargs)
    assert response.status_code == 302
    return response


ADMIN_PAGES = ["/admin", "/admin/accounts", "/admin/accounts/{id}", "/admin/settings"]
ADMIN_POSTS = ["/admin/accounts/{id}/deactivate", "/admin/accounts/{id}/reactivate",
               "/admin/accounts/{id}/sessions/end", "/admin/settings"]


def test_the_admin_area_is_404_to_everyone_else(db, client, new_client):
    someone = UserFactory()
    db.session.commit()
    anonymous = new_client()
    _log_in(client, someone)
    for path in ADMIN_PAGES:
        url = path.format(id=someone.id)
        assert client.get(url).status_code == 404, url
        assert anonymous.get(url).status_code == 404, url
    for path in ADMIN_POSTS:
        url = path.format(id=someone.id)
        assert client.post(url, data={"mode": "administrators"}).status_code == 404, url
    db.session.expire_all()
    assert db.session.get(User, someone.id).is_active
    assert "Administration" not in client.get("/").text


def test_a_deactivated_administrator_is_no_administrator(db, admin, admin_client):
    admin.is_active = False
    db.session.commit()
    assert admin_client.get("/admin/accounts").status_code in (302, 404)


def test_accounts_are_listed_and_searched(db, admin, admin_client, new_client):
    ada = UserFactory(email="ada@example.org", display_name="Ada Lovelace")
    UserFactory(email="grace@example.org", display_name="Grace Hopper")
    UserFactory(email="percent%@example.org", display_name="Someone Else")
    db.session.commit()
    _log_in(new_client(), ada, headers=PHONE)
    page = admin_client.get("/admin/accounts").text
    assert "Administration" in page
    assert all(e in page for e in ("ada@example.org", "grace@example.org", "admin@example.org"))
    row = re.search(rf'<tr id="account-{ada.id}">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r"<td>1</td>", row)  # one live session

    found = admin_client.get("/admin/accounts?q=LOVELACE").text
    assert "ada@example.org" in found and "grace@example.org" not in found
    assert "1 account" in found
    # LIKE's wildcards are searched for as themselves.
    found = admin_client.get("/admin/accounts?q=%25").text
    assert "percent%@example.org" in found and "ada@example.org" not in found
    assert "No account matches." in admin_client.get("/admin/accounts?q=nobody-here").text


def test_deactivation_ends_a_live_session_and_a_token_at_once(db, admin, admin_client,
                                                              client, new_client):
    """The leaver is in the middle of their work in a browser and a script holds their
    token: the next page they ask for sends them to log in, the next API call is 401, and
    logging in again is refused."""
    leaver = UserFactory(email="leaver@example.org")
    db.session.commit()
    client.post("/login", data={"email": leaver.email, "password": PASSWORD, "remember": "y"})
    remember = client.get_cookie("remember_token").value
    _token, secret = create_token(leaver, "nightly export")
    db.session.commit()
    api = {"Authorization": f"Bearer {secret}"}
    assert client.get("/profile").status_code == 200
    assert client.get("/api/v1/me", headers=api).status_code == 200

    page = admin_client.get(f"/admin/accounts/{leaver.id}").text
    assert "Deactivate leaver@example.org" in page
    response = admin_client.post(f"/admin/accounts/{leaver.id}/deactivate",
                                 follow_redirects=True)
    assert "leaver@example.org is deactivated" in response.text

    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.location
    thief = new_client()
    thief.set_cookie("remember_token", remember)
    assert thief.get("/profile").status_code == 302
    refused = client.get("/api/v1/me", headers=api)
    assert refused.status_code == 401
    assert refused.get_json()["message"] == "This access token is not valid or has been revoked."
    again = client.post("/login", data={"email": leaver.email, "password": PASSWORD})
    assert "This account is deactivated" in again.text
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == leaver.id)) == 0
    assert db.session.scalars(select(ApiToken.revoked_at).where(
        ApiToken.user_id == leaver.id)).all()[0] is not None


def test_reactivation_lets_the_account_log_in_again(db, admin, admin_client, client):
    leaver = UserFactory(is_active=False)
    db.session.commit()
    page = admin_client.get(f"/admin/accounts/{leaver.id}").text
    assert f"Reactivate {leaver.email}" in page
    admin_client.post(f"/admin/accounts/{leaver.id}/reactivate")
    _log_in(client, leaver)
    assert client.get("/profile").status_code == 200


def test_an_administrator_cannot_deactivate_themselves(db, admin, admin_client):
    response = admin_client.post(f"/admin/accounts/{admin.id}/deactivate",
                                 follow_redirects=True)
    assert "You cannot deactivate your own account." in response.text
    assert admin_client.get("/admin/accounts").status_code == 200


def test_an_administrator_sees_and_ends_a_users_sessions(db, admin, admin_client,
                                                         new_client):
    user = UserFactory()
    db.session.commit()
    laptop, phone = new_client(), new_client()
    _log_in(laptop, user)
    _log_in(phone, user, headers=PHONE)
    rows = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                              .order_by(UserSession.id)).all()
    page = admin_client.get(f"/admin/accounts/{user.id}").text
    assert "Chrome on Android" in page
    assert all(f'id="session-{row.id}"' in page for row in rows)

    admin_client.post(f"/admin/accounts/{user.id}/sessions/{rows[1].id}/end")
    assert laptop.get("/profile").status_code == 200
    assert phone.get("/profile", headers=PHONE).status_code == 302
    # A session of another account is not this account's: 404, nothing ended.
    other = UserFactory()
    db.session.commit()
    _log_in(new_client(), other)
    theirs = db.session.scalar(select(UserSession.id).where(UserSession.user_id == other.id))
    assert admin_client.post(
        f"/admin/accounts/{user.id}/sessions/{theirs}/end").status_code == 404

    response = admin_client.post(f"/admin/accounts/{user.id}/sessions/end",
                                 follow_redirects=True)
    assert "1 session is logged out." in response.text
    assert laptop.get("/profile").status_code == 302
    assert user.is_active


def test_admin_writes_are_post_only(db, admin, admin_client):
    user = UserFactory()
    db.session.commit()
    assert admin_client.get(f"/admin/accounts/{user.id}/deactivate").status_code == 405
    db.session.expire_all()
    assert db.session.get(User, user.id).is_active


def test_an_unknown_account_is_404(db, admin, admin_client):
    assert admin_client.get("/admin/accounts/999999").status_code == 404
