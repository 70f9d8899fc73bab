"""Who may start a collaboration: an installation setting administrators change in
/admin/settings, enforced by the operation (pages and API alike) and mirrored by the
"New collaboration" button."""

from __future__ import annotations

import re

import pytest

from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.admin.models import CollaborationCreators
from tests.factories import (
    PASSWORD,
    CollaborationFactory,
    OrganizationFactory,
    PartnerFactory,
    UserFactory,
    member,
)

NEW = {"title": "Meals together", "purpose": "new_service", "remit_kind": "social_group",
       "remit": "Older people living alone", "timezone": "Europe/Copenhagen"}
BUTTON = 'href="/collaborations/new"'


@pytest.fixture
def admin_client(db, new_client):
    admin = UserFactory(is_admin=True)
    db.session.commit()
    browser = new_client()
    assert browser.post("/login", data={"email": admin.email,
                                        "password": PASSWORD}).status_code == 302
    return browser


def _browser(new_client, user):
    browser = new_client()
    assert browser.post("/login", data={"email": user.email,
                                        "password": PASSWORD}).status_code == 302
    return browser


def _checked(page: str, name: str) -> set[str]:
    """The values of the ticked inputs named `name`."""
    tags = re.findall(r"<input[^>]*>", page)
    return {re.search(r'value="([^"]*)"', t).group(1) for t in tags
            if f'name="{name}"' in t and re.search(r"\bchecked\b", t)}


def _api(db, user) -> dict:
    _token, secret = create_token(user, "tests")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def _may_start(db, new_client, user) -> bool:
    """Asked three ways, which must agree: the button, the form page, the API."""
    browser = _browser(new_client, user)
    button = BUTTON in browser.get("/").text
    page = browser.get("/collaborations/new").status_code
    api = new_client().post("/api/v1/collaborations", json=NEW, headers=_api(db, user))
    assert page in (200, 403) and api.status_code in (201, 403), api.get_json()
    assert button == (page == 200) == (api.status_code == 201), (button, page, api.status_code)
    return button


@pytest.fixture
def people(db):
    collab = CollaborationFactory()
    listed = PartnerFactory(collaboration=collab)
    other = PartnerFactory(collaboration=collab)
    people = {
        "newcomer": UserFactory(),
        "coordinator": member(collab, Role.COORDINATOR).user,
        "staff_listed": member(collab, Role.PARTNER_STAFF, listed).user,
        "staff_other": member(collab, Role.PARTNER_STAFF, other).user,
        "citizen": member(collab, Role.CITIZEN).user,
        "guardian": member(collab, Role.GUARDIAN).user,
        "observer": member(collab, Role.OBSERVER).user,
        "admin": UserFactory(is_admin=True),
    }
    db.session.commit()
    return people, listed.organization


def test_by_default_everyone_but_citizens_and_guardians(db, new_client, people):
    everyone, _listed = people
    allowed = {name for name, user in everyone.items() if _may_start(db, new_client, user)}
    assert allowed == {"newcomer", "coordinator", "staff_listed", "staff_other", "observer",
                       "admin"}


def test_a_guardian_who_also_works_for_a_partner_may(db, new_client, people):
    everyone, _listed = people
    elsewhere = CollaborationFactory()
    member_as_staff = PartnerFactory(collaboration=elsewhere)
    from coprod.spaces.models import Membership

    db.session.add(Membership(collaboration_id=elsewhere.id, user_id=everyone["guardian"].id,
                              role=Role.PARTNER_STAFF, partner_id=member_as_staff.id))
    db.session.commit()
    assert _may_start(db, new_client, everyone["guardian"])


def test_administrators_only(db, new_client, admin_client, people):
    everyone, _listed = people
    response = admin_client.post("/admin/settings", data={"mode": "administrators"},
                                 follow_redirects=True)
    assert "The settings are saved." in response.text
    allowed = {name for name, user in everyone.items() if _may_start(db, new_client, user)}
    assert allowed == {"admin"}
    refused = new_client().post("/api/v1/collaborations", json=NEW,
                                headers=_api(db, everyone["coordinator"]))
    assert refused.status_code == 403
    assert "Ask an administrator" in refused.get_json()["message"]


def test_members_of_listed_organizations(db, new_client, admin_client, people):
    everyone, listed = people
    unlisted = OrganizationFactory()
    db.session.commit()
    page = admin_client.get("/admin/settings").text
    assert listed.name in page and unlisted.name in page
    assert _checked(page, "mode") == {"staff"}  # the default
    admin_client.post("/admin/settings", data={"mode": "organizations",
                                               "organizations": [listed.id]})
    allowed = {name for name, user in everyone.items() if _may_start(db, new_client, user)}
    assert allowed == {"staff_listed", "admin"}
    page = admin_client.get("/admin/settings").text
    assert _checked(page, "mode") == {"organizations"}
    assert _checked(page, "organizations") == {str(listed.id)}


def test_the_settings_form_refuses_what_it_cannot_take(db, admin_client, people):
    response = admin_client.post("/admin/settings", data={"mode": "organizations"})
    assert response.status_code == 422
    assert "Choose at least one organization." in response.text
    response = admin_client.post("/admin/settings", data={"mode": "everybody"})
    assert response.status_code == 422
    response = admin_client.post("/admin/settings", data={"mode": "organizations",
                                                          "organizations": ["999999"]})
    assert response.status_code == 422
    assert "Choose organizations from the list." in response.text
    from coprod.policy.installation import installation_settings

    assert installation_settings() is None


def test_the_setting_is_stored_in_the_database(db, admin_client, people):
    from coprod.policy.installation import installation_settings

    _everyone, listed = people
    admin_client.post("/admin/settings", data={"mode": "organizations",
                                               "organizations": [listed.id]})
    db.session.expire_all()
    row = installation_settings()
    assert row.collaboration_creators == CollaborationCreators.ORGANIZATIONS
    assert [o.id for o in row.creator_organizations] == [listed.id]
