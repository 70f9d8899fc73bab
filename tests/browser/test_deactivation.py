"""In headless Chromium: a leaver is working in one browser while an administrator, in
another, deactivates their account; the leaver's next click lands on the log-in page, and
logging in again is refused."""

from __future__ import annotations

import re

import pytest

from coprod.extensions import db
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.browser


def _log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_an_administrator_deactivates_a_leaver_who_is_logged_out_at_once(
        app, live_app, live_server, browser):
    UserFactory(email="admin@example.org", display_name="Ada Admin", is_admin=True)
    UserFactory(email="leaver@example.org", display_name="Lee Leaver")
    db.session.commit()

    leaver = browser.new_context().new_page()
    _log_in(leaver, live_server, "leaver@example.org")
    leaver.get_by_role("link", name="Lee Leaver").click()
    assert "Your profile" in leaver.locator("h1").inner_text()
    assert leaver.get_by_role("link", name="Administration").count() == 0

    admin = browser.new_context().new_page()
    _log_in(admin, live_server, "admin@example.org")
    admin.get_by_role("link", name="Administration").click()
    admin.get_by_label("Email or name contains").fill("leaver")
    admin.get_by_role("button", name="Search").click()
    admin.get_by_role("link", name="leaver@example.org").click()
    assert admin.locator("tr[id^=session-]").count() == 1  # the leaver's browser
    admin.get_by_role("button", name="Deactivate leaver@example.org").click()
    assert "leaver@example.org is deactivated" in admin.locator(".flashes").inner_text()
    assert "The account is logged in nowhere." in admin.locator("main").inner_text()

    leaver.get_by_role("link", name="My collaborations").click()
    leaver.wait_for_url(re.compile(r"/login"))
    leaver.get_by_label("Email").fill("leaver@example.org")
    leaver.get_by_label("Password").fill(PASSWORD)
    leaver.get_by_role("button", name="Log in").click()
    assert "This account is deactivated" in leaver.locator("main").inner_text()
