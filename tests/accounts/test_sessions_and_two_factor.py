"""Server-side log-ins and two-factor together: the factor a log-in passed is kept on its row
in user_sessions, a log-in waiting for its code has no row, turning the factor on ends the
log-ins that never passed it, and a deactivation ends log-ins of either kind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod.accounts.sessions import UserSession
from tests.accounts.sso import identity, through_provider
from tests.accounts.test_two_factor import _code, _enrol, _next_code, _page_is_open, _password
from tests.factories import CollaborationFactory, UserFactory, member


def _rows(db, user) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.id)))


@pytest.fixture
def anna(db):
    user = UserFactory(email="anna@example.org")
    db.session.commit()
    return user


@pytest.fixture
def admin_client(db, new_client):
    admin = UserFactory(email="admin@example.org", is_admin=True)
    db.session.commit()
    browser = new_client()
    assert _password(browser, admin).status_code == 302
    return browser


def test_the_factor_is_on_the_log_in_row_and_a_pending_log_in_has_none(
        db, client, anna, new_client):
    _password(client, anna)
    assert [row.second_factor for row in _rows(db, anna)] == [None]
    secret, _ = _enrol(client)
    # Enrolment ended the log-in that had no factor and opened one that passed it.
    assert [row.second_factor for row in _rows(db, anna)] == ["totp"]

    phone = new_client()
    assert _password(phone, anna).headers["Location"] == "/login/code"
    assert len(_rows(db, anna)) == 1  # the password alone opened no log-in
    assert not _page_is_open(phone)
    assert _code(phone, _next_code(secret)).status_code == 302
    assert [row.second_factor for row in _rows(db, anna)] == ["totp", "totp"]
    assert _page_is_open(phone)


def test_turning_the_factor_on_ends_the_other_log_ins(db, client, anna, new_client):
    other = new_client()
    _password(other, anna)
    _password(client, anna)
    assert _page_is_open(other)
    _enrol(client)
    assert not _page_is_open(other)
    assert _page_is_open(client)
    assert len(_rows(db, anna)) == 1


def test_remember_me_keeps_the_factor_and_its_bound(db, client, anna, app):
    _password(client, anna)
    secret, _ = _enrol(client)
    client.post("/logout")
    _password(client, anna, remember=True)
    _code(client, _next_code(secret))
    (row,) = _rows(db, anna)
    assert (row.remember, row.second_factor) == (True, "totp")
    assert row.expires_at - row.created_at == app.config["REMEMBER_COOKIE_DURATION"]


def test_a_provider_that_vouches_counts_on_the_row(db, client, sso, app, monkeypatch):
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_COORDINATORS", True)
    coordinator = member(CollaborationFactory(), email="mette@cafe.example.org").user
    db.session.commit()
    through_provider(client, sso, identity(coordinator.email, amr=["pwd", "mfa"]))
    assert [row.second_factor for row in _rows(db, coordinator)] == ["idp"]
    assert _page_is_open(client, "/")


def test_an_older_log_in_without_the_factor_is_ended_by_the_gate(
        db, client, app, monkeypatch):
    """A coordinator's log-in that passed no second factor although the account has one
    (it began before enrolment or before the requirement) is ended on the server, not only
    in this browser."""
    coordinator = member(CollaborationFactory()).user
    db.session.commit()
    _password(client, coordinator)
    secret, _ = _enrol(client)
    (row,) = _rows(db, coordinator)
    row.second_factor = None  # as if opened before this revision
    db.session.commit()
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_COORDINATORS", True)
    answer = client.get("/profile")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert _rows(db, coordinator) == []


def test_deactivation_ends_log_ins_of_either_kind(db, anna, admin_client, client, new_client):
    _password(client, anna)
    secret, _ = _enrol(client)
    waiting = new_client()
    assert _password(waiting, anna).headers["Location"] == "/login/code"

    answer = admin_client.post(f"/admin/accounts/{anna.id}/deactivate")
    assert answer.status_code == 302

    assert not _page_is_open(client)  # the log-in that passed the code
    assert _rows(db, anna) == []
    late = _code(waiting, _next_code(secret))  # the one waiting for it: a good code, refused
    assert late.status_code == 302 and late.headers["Location"] == "/login"
    assert not _page_is_open(waiting)
    assert _rows(db, anna) == []
