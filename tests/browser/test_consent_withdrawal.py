"""In headless Chromium: the café reads the case worker's note about Citizen 17; his guardian
withdraws the café's consent on her own page; on reload the café's feed no longer has it, and
the guardian's access log names the café as an organization that looked."""

from __future__ import annotations

import re

import pytest

from coprod import demo
from coprod.extensions import db

pytestmark = pytest.mark.browser

NOTE_START = "Citizen 17 would like two mornings a week"
CAFE = "Café Solsikke"


def _log_in(browser, base: str, email: str, password: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    return page


def _section(page, heading: str):
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading))


def test_guardian_withdraws_the_cafes_consent_and_the_cafe_no_longer_sees_the_note(
        app, live_server, browser):
    password = demo.demo_password()
    demo.seed(password)
    db.session.commit()
    assert demo.CITIZEN_NOTE["body"].startswith(NOTE_START)

    cafe = _log_in(browser, live_server, "cafe@demo.example.org", password)
    cafe.get_by_role("link", name="Meaningful work").first.click()
    cafe.get_by_role("navigation", name="Collaboration").get_by_role(
        "link", name=re.compile(r"^Reflections")).click()
    assert NOTE_START in cafe.locator("main").inner_text()

    guardian = _log_in(browser, live_server, "guardian@demo.example.org", password)
    guardian.get_by_role("navigation", name="Main").get_by_role(
        "link", name="My information").click()
    guardian.wait_for_url(re.compile(r"/my/information/\d+$"))  # one citizen: straight there
    who_may_see = _section(guardian, "Who may see your information").inner_text()
    assert f"{CAFE} may see this information." in who_may_see
    assert "Who looked at your information" in guardian.locator("main").inner_text()
    assert CAFE in _section(guardian, "Who looked at your information").inner_text()

    guardian.get_by_role("button", name=f"Withdraw for {CAFE}").click()
    guardian.wait_for_url(re.compile(r"/my/information/\d+$"))
    shown = guardian.locator("main").inner_text()
    assert f"{CAFE} can no longer see your information under this consent." in shown
    assert f"Withdraw for {CAFE}" not in _section(
        guardian, "Who may see your information").inner_text()
    assert "No longer: Café Solsikke." in _section(
        guardian, "Changes to your consent").inner_text()

    cafe.reload()
    assert NOTE_START not in cafe.locator("main").inner_text()
