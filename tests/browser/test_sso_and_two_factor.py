"""In headless Chromium: a municipal employee signs in through the OpenID Connect provider
(a real one on loopback, whose sign-in page the browser fills), and a coordinator sets up an
authenticator on first log-in (codes computed with pyotp), then logs in with a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from coprod.accounts.credentials import TotpCredential, UserIdentity
from coprod.accounts.models import Role
from coprod.extensions import db
from tests.accounts.sso import SSO_DOMAIN, provider_server, providers_setting  # noqa: F401
from tests.factories import PASSWORD, CollaborationFactory, OrganizationFactory, member

pytestmark = pytest.mark.browser


@pytest.fixture
def live_app(app, tmp_path, provider_server):  # noqa: F811
    """The live app with the test provider as "Skovby Kommune" and coordinators needing a
    second factor, as in production."""
    from tests.browser.conftest import _free_port
    from tests.conftest import make_app

    provider_server.reset()
    port = _free_port()
    live = make_app(tmp_path / "live-instance", BASE_URL=f"http://127.0.0.1:{port}",
                    WTF_CSRF_ENABLED=True,
                    COPROD_OIDC_PROVIDERS=providers_setting(provider_server),
                    COPROD_REQUIRE_2FA_FOR_COORDINATORS=True)
    live.config["LIVE_PORT"] = port
    return live


def test_staff_sign_in_through_their_organizations_provider(live_server, browser,
                                                            provider_server):  # noqa: F811
    organization = OrganizationFactory(name="Skovby Job Centre")
    staff = member(CollaborationFactory(title="Meaningful work"), Role.PARTNER_STAFF,
                   email=f"lars@{SSO_DOMAIN}", display_name="Lars Nielsen").user
    db.session.commit()

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/login")
    # Password log-in is off for the domain: the page says where to go instead.
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert "use the button “Sign in with Skovby Kommune” below" in page.locator("main").inner_text()

    page.get_by_role("button", name="Sign in with Skovby Kommune").click()
    page.wait_for_url(re.compile(re.escape(provider_server.issuer) + r"/authorize"))
    page.get_by_label("Subject").fill("skovby-4711")
    page.get_by_label("Email", exact=True).fill(staff.email)
    page.get_by_role("button", name="Sign in at the provider").click()
    page.wait_for_url(f"{live_server}/")
    assert "Meaningful work" in page.locator("main").inner_text()
    assert "Lars Nielsen" in page.get_by_role("navigation", name="Main").inner_text()
    db.session.expire_all()
    linked = db.session.scalar(select(UserIdentity))
    assert (linked.user_id, linked.subject, linked.organization_id) == (
        staff.id, "skovby-4711", organization.id)
    context.close()


def test_coordinator_sets_up_an_authenticator_then_logs_in_with_a_code(live_server, browser):
    coordinator = member(CollaborationFactory(title="Meaningful work"),
                         email="mette@jobcentre.example.org", display_name="Mette Hansen").user
    db.session.commit()

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(coordinator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")

    # Sent to enrolment before anything else, with a QR code and the key to type.
    page.wait_for_url(f"{live_server}/profile/two-factor")
    assert "requires two-factor authentication" in page.locator("main").inner_text()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.locator("#manual-key").inner_text().replace(" ", "")
    page.goto(f"{live_server}/")  # nothing else opens yet
    assert page.url == f"{live_server}/profile/two-factor"

    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them: go on").click()
    assert "Meaningful work" in page.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.scalar(select(TotpCredential.user_id)) == coordinator.id

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(coordinator.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/login/code")
    # The code of the step just used is spent; the next step's is within the drift allowed.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        totp.at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/")
    assert "Meaningful work" in page.locator("main").inner_text()
    context.close()
