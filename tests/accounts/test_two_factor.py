"""Two-factor authentication: enrolment with a QR code and a key, the second step of a log-in
(throttled like the password step), one-time codes and recovery codes, and who must have it
(coordinators; citizen readers when the installation says so) before anything else."""

from __future__ import annotations

import html
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from coprod.accounts.credentials import RecoveryCode, TotpCredential
from coprod.accounts.models import Role
from coprod.reflections.models import Reflection
from tests.accounts.sso import identity, through_provider
from tests.factories import (
    PASSWORD,
    CollaborationFactory,
    MembershipFactory,
    UserFactory,
    member,
)

A = "192.0.2.1"


def _now_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def _next_code(secret: str) -> str:
    """The code of the next 30 s step: accepted (one step of drift) after the current one
    was spent, so a test need not wait for the clock."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def _enrol(client) -> tuple[str, list[str]]:
    """Set up the authenticator through the pages: (secret, recovery codes)."""
    page = client.get("/profile/two-factor")
    assert page.status_code == 200
    secret = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page.text).group(1).replace(" ", "")
    done = client.post("/profile/two-factor", data={"code": _now_code(secret)})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", done.text)
    return secret, codes


def _password(client, user, remember=False):
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def _code(client, code: str):
    return client.post("/login/code", data={"code": code})


def _at(client, address: str):
    """The browser's requests come from this client address from now on."""
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _page_is_open(client, path="/profile") -> bool:
    return client.get(path).status_code == 200


@pytest.fixture
def anna(db):
    user = UserFactory(email="anna@example.org")
    db.session.commit()
    return user


@pytest.fixture
def coordinators_need_it(app, monkeypatch):
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_COORDINATORS", True)


def test_enrolment_shows_a_qr_code_and_the_key_and_keeps_only_hashes_of_recovery_codes(
        db, client, anna, sign_in):
    sign_in(anna)
    page = client.get("/profile/two-factor")
    assert 'src="data:image/svg+xml' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page.text).group(1)
    assert len(key.replace(" ", "")) == 32
    assert client.get("/profile/two-factor").text.count(key) == 1  # the same key until done

    wrong = client.post("/profile/two-factor", data={"code": "000000"})
    assert wrong.status_code == 422
    assert "That code is not right" in html.unescape(wrong.text)
    assert db.session.scalar(select(TotpCredential)) is None

    secret, codes = _enrol(client)
    assert secret == key.replace(" ", "")
    assert len(codes) == 10 == len(set(codes))
    stored = set(db.session.scalars(select(RecoveryCode.code_hash)))
    assert stored == {RecoveryCode.digest(c.replace("-", "")) for c in codes}
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    assert _page_is_open(client)  # this session carries on


def test_log_in_asks_for_a_code_after_the_password_and_a_code_works_once(
        db, client, new_client, anna, sign_in):
    sign_in(anna)
    secret, _ = _enrol(client)

    browser = new_client()
    first = _password(browser, anna)
    assert first.headers["Location"] == "/login/code"
    assert not _page_is_open(browser)  # the password alone logs no one in
    wrong = _code(browser, "123456")
    assert wrong.status_code == 422 and "That code is not right" in wrong.text
    spent = _code(browser, _now_code(secret))  # used for the enrolment a moment ago
    assert spent.status_code == 422
    good = _code(browser, _next_code(secret))
    assert good.status_code == 302 and good.headers["Location"] == "/"
    assert _page_is_open(browser)

    again = new_client()
    _password(again, anna)
    assert _code(again, _next_code(secret)).status_code == 422  # never twice


def test_a_recovery_code_logs_in_once(db, client, new_client, anna, sign_in):
    sign_in(anna)
    _secret, codes = _enrol(client)
    browser = new_client()
    _password(browser, anna)
    used = _code(browser, codes[3].upper().replace("-", " "))
    assert used.status_code == 302
    assert "9 are left" in browser.get("/profile").text
    other = new_client()
    _password(other, anna)
    assert _code(other, codes[3]).status_code == 422


def test_wrong_codes_are_throttled_like_wrong_passwords(db, client, new_client, anna, sign_in):
    sign_in(anna)
    secret, _ = _enrol(client)
    browser = _at(new_client(), A)
    _password(browser, anna)
    answers = [_code(browser, f"{n:06d}").status_code for n in range(7)]
    assert answers == [422] * 5 + [429] * 2
    limited = _code(browser, _next_code(secret))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "Too many attempts" in limited.text
    # Another address keeps its own allowance (the owner is not locked out by a guesser).
    elsewhere = _at(new_client(), "198.51.100.2")
    _password(elsewhere, anna)
    assert _code(elsewhere, _next_code(secret)).status_code == 302


def test_the_code_page_needs_a_password_first(client):
    answer = client.get("/login/code")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"


def test_a_coordinator_is_sent_to_enrolment_before_anything_else(
        db, client, coordinators_need_it):
    seat = member(CollaborationFactory(title="Meaningful work"))
    coordinator, feed = seat.user, f"/c/{seat.collaboration_id}/reflections"
    db.session.commit()
    assert _password(client, coordinator).headers["Location"] == "/"
    for path in ("/", "/profile", "/notifications", feed, feed):  # a page the cache may keep
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"] == "/profile/two-factor"
    # A post read as a plain row (sessions.posts_as_reader) meets the same gate.
    posted = client.post(f"/c/{seat.collaboration_id}/reflections/new",
                         data={"body": "Before enrolling", "kind": "works"})
    assert posted.status_code == 302 and posted.headers["Location"] == "/profile/two-factor"
    assert db.session.scalars(select(Reflection)).all() == []
    page = client.get("/profile/two-factor")
    assert "Your role in Coprod requires two-factor authentication" in page.text
    _enrol(client)
    assert "Meaningful work" in client.get("/").text


def test_without_the_setting_a_coordinator_may_go_without(db, client, sign_in):
    coordinator = member(CollaborationFactory()).user
    db.session.commit()
    sign_in(coordinator)
    assert _page_is_open(client, "/")


def test_citizen_readers_need_it_when_the_installation_says_so(app, db, new_client,
                                                               monkeypatch):
    from tests.citizens.conftest import build_world

    world = build_world(db)
    db.session.commit()
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS", True)
    for user, needs in ((world.cafe_staff, True), (world.case_worker, True),
                        (world.shelter_staff, False), (world.guardian, False)):
        browser = new_client()
        _password(browser, user)
        answer = browser.get("/profile")
        assert (answer.status_code == 302) is needs, user.display_name
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS", False)
    browser = new_client()
    _password(browser, world.cafe_staff)
    assert _page_is_open(browser)


def test_remember_me_keeps_the_second_factor(db, client, coordinators_need_it):
    coordinator = member(CollaborationFactory()).user
    db.session.commit()
    _password(client, coordinator)
    secret, _ = _enrol(client)
    client.post("/logout")
    _password(client, coordinator, remember=True)
    assert _code(client, _next_code(secret)).status_code == 302
    client.delete_cookie("session")  # the browser was closed; the remember-me cookie stays
    assert _page_is_open(client)


def test_changing_the_password_keeps_the_second_factor(db, client, coordinators_need_it):
    coordinator = member(CollaborationFactory()).user
    db.session.commit()
    _password(client, coordinator)
    _enrol(client)
    changed = client.post("/profile/password", data={
        "current_password": PASSWORD, "new_password": "another long secret",
        "new_password_confirm": "another long secret"})
    assert changed.status_code == 302
    assert _page_is_open(client)


def test_api_tokens_are_not_asked_for_a_second_factor(db, client, coordinators_need_it):
    from coprod.accounts import operations

    coordinator = member(CollaborationFactory()).user
    _token, secret = operations.create_token(coordinator, "script")
    db.session.commit()
    answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    assert answer.json["email"] == coordinator.email


def test_a_password_reset_still_asks_for_the_code(db, client, new_client, anna, sign_in):
    from coprod.accounts import operations

    sign_in(anna)
    secret, _ = _enrol(client)
    browser = new_client()
    token = operations.password_reset_token(anna)
    reset = browser.post(f"/password/reset/{token}", data={
        "password": "a brand new secret", "password_confirm": "a brand new secret"})
    assert reset.headers["Location"] == "/login/code"
    assert not _page_is_open(browser)
    assert _code(browser, _next_code(secret)).status_code == 302


def test_turning_it_off_needs_a_code_and_is_refused_when_required(
        app, db, client, anna, sign_in, monkeypatch):
    sign_in(anna)
    secret, _ = _enrol(client)
    assert client.post("/profile/two-factor/off", data={"code": "000000"}).status_code == 422
    MembershipFactory(collaboration=CollaborationFactory(), role=Role.COORDINATOR, user=anna)
    db.session.commit()
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_COORDINATORS", True)
    refused = client.post("/profile/two-factor/off", data={"code": _next_code(secret)})
    assert refused.status_code == 403
    assert "Your role requires two-factor authentication" in refused.text
    assert db.session.scalar(select(TotpCredential)) is not None
    monkeypatch.setitem(app.config, "COPROD_REQUIRE_2FA_FOR_COORDINATORS", False)
    off = client.post("/profile/two-factor/off", data={"code": _next_code(secret)})
    assert off.status_code == 302
    assert db.session.scalar(select(TotpCredential)) is None
    assert db.session.scalar(select(RecoveryCode)) is None


def test_new_recovery_codes_replace_the_old(db, client, new_client, anna, sign_in):
    sign_in(anna)
    secret, old = _enrol(client)
    page = client.post("/profile/two-factor/recovery-codes", data={"code": _next_code(secret)})
    new = re.findall(r"<li><code>([a-z2-7-]{19})</code></li>", page.text)
    assert len(new) == 10 and not set(new) & set(old)
    browser = new_client()
    _password(browser, anna)
    assert _code(browser, old[0]).status_code == 422
    assert _code(browser, new[0]).status_code == 302


def test_a_provider_that_vouches_for_a_second_factor_counts_as_one(
        db, client, new_client, sso, coordinators_need_it):
    coordinator = member(CollaborationFactory(), email="mette@cafe.example.org").user
    db.session.commit()
    strong = through_provider(client, sso, identity(coordinator.email, amr=["pwd", "mfa"]))
    assert strong.headers["Location"] == "/"
    assert _page_is_open(client, "/")

    weak = new_client()
    through_provider(weak, sso, identity(coordinator.email, amr=["pwd"]))
    assert weak.get("/").headers["Location"] == "/profile/two-factor"


def test_a_provider_sign_in_without_a_second_factor_asks_for_the_code(
        db, client, new_client, sso):
    user = UserFactory(email="jonas@cafe.example.org")
    db.session.commit()
    assert through_provider(client, sso, identity(user.email)).status_code == 302
    secret, _ = _enrol(client)
    browser = new_client()
    answer = through_provider(browser, sso, identity(user.email, amr=["pwd"]))
    assert answer.headers["Location"] == "/login/code"
    assert not _page_is_open(browser)
    assert _code(browser, _next_code(secret)).status_code == 302
    assert _page_is_open(browser)


def test_until_enrolled_a_coordinators_forms_change_nothing(db, client, coordinators_need_it):
    coordinator = member(CollaborationFactory(), display_name="Mette").user
    db.session.commit()
    _password(client, coordinator)
    answer = client.post("/profile", data={"display_name": "Someone else", "locale": "en",
                                           "timezone": "UTC"})
    assert answer.headers["Location"] == "/profile/two-factor"
    db.session.refresh(coordinator)
    assert coordinator.display_name == "Mette"


def test_the_second_step_waits_ten_minutes_at_most(db, client, anna, sign_in, new_client):
    from freezegun import freeze_time

    sign_in(anna)
    secret, _ = _enrol(client)
    browser = new_client()
    with freeze_time() as clock:
        _password(browser, anna)
        clock.tick(11 * 60)
        late = _code(browser, pyotp.TOTP(secret).now())
    assert late.headers["Location"] == "/login"
    assert not _page_is_open(browser)
