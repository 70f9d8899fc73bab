"""In headless Chromium: café staff post an improvement for chosen partners only and are told
it is posted; the care home reads it and replies; the animal shelter never sees it."""

from __future__ import annotations

import re

import pytest

from coprod import demo
from coprod.extensions import db

pytestmark = pytest.mark.browser

BODY = "Our Friday rota reaches the care home too late (browser check)."


def _log_in(browser, base: str, email: str, password: str):
    page = browser.new_context().new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Meaningful work").first.click()
    return page


def _tab(page, name: str) -> None:
    page.get_by_role("navigation", name="Collaboration").get_by_role(
        "link", name=re.compile(rf"^{name}")).click()


def _choose(page, label_start: str) -> None:
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(label_start)}")).check()


def test_post_for_chosen_partners_reply_and_nobody_else_sees_it(app, live_server, browser):
    password = demo.demo_password()
    demo.seed(password)
    db.session.commit()

    cafe = _log_in(browser, live_server, "cafe@demo.example.org", password)
    _tab(cafe, "Reflections")
    cafe.get_by_role("link", name="Post a reflection").click()
    _choose(cafe, "Must improve")
    _choose(cafe, "For the citizens")
    _choose(cafe, "Knowledge-sharing routines")
    _choose(cafe, "Between organizations")
    _choose(cafe, "Co-exploitation")
    cafe.get_by_label("Your reflection").fill(BODY)
    _choose(cafe, "Chosen partner organizations")
    cafe.get_by_role("checkbox", name="Lindely Residential Care Home", exact=True).check()
    cafe.get_by_role("button", name="Post the reflection").click()
    cafe.wait_for_url(re.compile(r"/reflections/\d+#posted$"))
    shown = cafe.locator("main").inner_text()
    assert BODY in shown and "Lindely Residential Care Home" in shown
    confirmation = cafe.get_by_role("status").filter(has_text="Your reflection is posted.")
    assert confirmation.is_visible()
    reflection_url = cafe.url.removesuffix("#posted")

    care_home = _log_in(browser, live_server, "carehome@demo.example.org", password)
    _tab(care_home, "Reflections")
    item = care_home.get_by_role("listitem").filter(has_text="Friday rota reaches")
    item.get_by_role("link", name="Must improve: Knowledge-sharing routines").click()
    care_home.get_by_label("Your reply").first.fill("We will plan the minibus from it.")
    care_home.get_by_role("button", name="Post the reply").first.click()
    assert "We will plan the minibus from it." in care_home.locator("main").inner_text()

    shelter = _log_in(browser, live_server, "shelter@demo.example.org", password)
    _tab(shelter, "Reflections")
    assert "Friday rota reaches" not in shelter.locator("main").inner_text()
    assert shelter.goto(reflection_url).status == 404

    cafe.goto(reflection_url)  # coming back later: no confirmation any more
    assert "We will plan the minibus from it." in cafe.locator("main").inner_text()
    assert not confirmation.is_visible()
