"""In headless Chromium: the demo coordinator invites a café employee, who joins from the
emailed link in a second browser (on a phone-sized screen) and reads the charter."""

from __future__ import annotations

import re

import pytest

from coprod import demo
from coprod.extensions import db
from tests.conftest import Outbox, text_of

pytestmark = pytest.mark.browser

NEW_STAFF = "barista@cafe.example.org"


def _latest_email_to(live_app, address: str):
    """Send what the live server queued (as the worker would) and read the .eml file."""
    with live_app.app_context():
        return Outbox(live_app).last_to(address)


def test_coordinator_invites_staff_who_joins_and_reads_the_charter(
        app, live_app, live_server, browser):
    password = demo.demo_password()
    demo.seed(password)
    db.session.commit()

    coordinator = browser.new_context()
    page = coordinator.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(demo.DEMO_COORDINATOR_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # the keyboard alone submits the form
    page.get_by_role("link", name="Meaningful work").first.click()
    space_nav = page.get_by_role("navigation", name="Collaboration")
    space_nav.get_by_role("link", name="Invitations").click()
    page.get_by_label("Email address").fill(NEW_STAFF)
    page.get_by_label("Role").select_option(label="Partner staff")
    page.get_by_label("Partner organization").select_option(label="Café Solsikke")
    page.get_by_role("button", name="Send the invitation").click()
    assert NEW_STAFF in page.locator("main").inner_text()

    message = _latest_email_to(live_app, NEW_STAFF)
    assert "Meaningful work" in message["Subject"]
    link = re.search(r"http://127\.0\.0\.1:\d+/invitations/\S+", text_of(message)).group(0)

    invitee = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = invitee.new_page()
    phone.goto(link)
    assert "Café Solsikke" in phone.locator("main").inner_text()
    phone.get_by_label("Your name").fill("Ida Barista")
    phone.get_by_label("Choose a password").fill("a long enough secret")
    phone.get_by_label("Repeat the password").fill("a long enough secret")
    phone.get_by_role("button", name="Create account and join").click()
    phone.wait_for_url(re.compile(r"/c/\d+$"))
    assert "Meaningful work" in phone.locator("h1").inner_text()
    # Nothing sticks out sideways on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # On a phone the collaboration's tabs are folded into a menu.
    phone_nav = phone.get_by_role("navigation", name="Collaboration")
    phone_nav.get_by_role("checkbox", name=re.compile(r"^Menu")).check()
    phone_nav.get_by_role("link", name="Charter").click()
    charter = phone.locator("main").inner_text()
    assert "Why do we collaborate?" in charter
    assert "How do we keep our knowledge-sharing routines?" in charter

    phone.goto(link)  # the link is single-use
    assert "already been used" in phone.locator("main").inner_text()

    space_nav.get_by_role("link", name="Members").click()
    assert "Ida Barista" in page.locator("main").inner_text()
    invitee.close()
    coordinator.close()
