"""In headless Chromium at a phone's width (390 px): every page each of the nine demo accounts
reaches from the navigation, and the pages those link to, fits the screen (the page never
scrolls sideways), styles every submit control of its forms like the app's buttons, and has no
axe-core violation. The collaboration's tabs fold into a menu that opens from the keyboard."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from coprod import demo
from coprod.extensions import db

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# Links not to follow: they end the session, download a file or act on a signed token.
NOT_PAGES = re.compile(r"/logout|/export|/download|/unsubscribe|/r/|\.json$|/api/")

# Submit controls whose look is still the browser's own: font and cursor not the app's.
UNSTYLED_SUBMITS = """() => [...document.querySelectorAll(
    'input[type=submit], input[type=image], input[type=reset], button')]
  .filter(el => el.form || el.closest('form'))
  .filter(el => {
    const own = getComputedStyle(el), around = getComputedStyle(el.parentElement);
    return own.cursor !== 'pointer' || own.fontSize !== around.fontSize
      || own.fontFamily !== around.fontFamily;
  })
  .map(el => el.outerHTML.slice(0, 160))"""


def _log_in(browser, base: str, email: str, password: str):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    return page


def _shape(path: str) -> str:
    """Pages that differ only in ids look alike: one of them is enough per account."""
    return re.sub(r"\d+", "N", path)


def _links(page, selector: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    found = []
    for href in hrefs:
        parts = urlsplit(href or "")
        if parts.netloc or not parts.path.startswith("/") or parts.query:
            continue
        if not NOT_PAGES.search(parts.path) and parts.path not in found:
            found.append(parts.path)
    return found


def _check(page, axe: Axe, url: str, problems: dict, run_axe: bool) -> None:
    response = page.goto(url)
    where = urlsplit(url).path
    if response.status != 200:
        problems["status"].append(f"{where}: {response.status}")
        return
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems["sideways"].append(f"{where}: {width} px")
    for control in page.evaluate(UNSTYLED_SUBMITS):
        problems["unstyled submit"].append(f"{where}: {control}")
    if run_axe:
        result = axe.run(page)
        if result.violations_count:
            problems["axe"].append(f"{where}:\n{result.generate_snapshot()}")


def _collaboration_menu_opens_from_the_keyboard(page, base: str, collaboration: str) -> None:
    page.goto(base + collaboration)
    tabs = page.get_by_role("navigation", name="Collaboration").get_by_role("list")
    assert not tabs.is_visible()  # folded on a phone
    page.get_by_role("navigation", name="Collaboration").get_by_role(
        "link", name="Meaningful work").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "subnav-menu"
    page.keyboard.press("Space")
    assert tabs.is_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Overview"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")
    assert not tabs.is_visible()


def test_every_page_of_every_demo_account_fits_a_phone_with_styled_buttons_and_no_axe_violation(
        app, live_server, browser):
    password = demo.demo_password()
    demo.seed(password)
    db.session.commit()
    axe = Axe()
    problems: dict[str, list[str]] = defaultdict(list)
    visited: dict[str, int] = {}
    axed: set[str] = set()
    roles_crawled: set[str] = set()

    def check(page, path: str) -> list[str]:
        """The checks of one page; answers the pages its main part links to."""
        # axe once per kind of page (the coordinator, first, meets nearly every form)
        _check(page, axe, live_server + path, problems, run_axe=_shape(path) not in axed)
        axed.add(_shape(path))
        return _links(page, "main a")

    anonymous = browser.new_context(viewport=PHONE).new_page()
    for path in ("/login", "/password/forgot"):
        check(anonymous, path)
    anonymous.context.close()

    for person in demo.PEOPLE:
        page = _log_in(browser, live_server, person.email, password)
        # The main navigation, the collaborations on the dashboard and their tabs...
        linked_from = {"/": check(page, "/")}
        navigation = ["/", *_links(page, "header nav a")]
        collaborations = [p for p in linked_from["/"] if re.fullmatch(r"/c/\d+", p)]
        for path in collaborations:
            linked_from[path] = check(page, path)
            navigation += [p for p in _links(page, "nav.subnav a") if p not in navigation]
        if person.email == demo.DEMO_COORDINATOR_EMAIL:
            _collaboration_menu_opens_from_the_keyboard(page, live_server, collaborations[0])
        for path in navigation:
            if path not in linked_from:
                linked_from[path] = check(page, path)
        # ... and the pages they link to, once per role: five partners' staff see alike.
        linked = []
        if person.role.value not in roles_crawled:
            roles_crawled.add(person.role.value)
            seen = {_shape(p) for p in navigation}
            for link in (link for links in linked_from.values() for link in links):
                if _shape(link) not in seen:
                    seen.add(_shape(link))
                    linked.append(link)
        for path in linked:
            check(page, path)
        visited[person.email] = len(navigation) + len(linked)
        page.context.close()

    assert len(visited) == 9 and min(visited.values()) >= 8, visited
    assert not problems, "\n".join(f"{kind}: {item}" for kind, items in problems.items()
                                   for item in items)


def test_the_api_reference_renders_every_operation_within_the_csp(app, live_server, browser):
    page = browser.new_context(viewport=PHONE).new_page()
    complaints = []
    page.on("console", lambda message: complaints.append(message.text)
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: complaints.append(str(error)))
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(live_server) else None)

    page.goto(f"{live_server}/api/v1/docs")
    page.locator(".opblock").first.wait_for()

    spec = page.request.get(f"{live_server}/api/v1/openapi.json").json()
    operations = sum(1 for item in spec["paths"].values() for method in item
                     if method != "parameters")
    assert page.locator(".opblock").count() == operations
    assert page.get_by_role("heading", name="A worked example with curl").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not complaints  # a CSP refusal is reported on the console
    assert not outside
    page.context.close()
