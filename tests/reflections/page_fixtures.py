"""Fixtures of the reflection page tests: a space with three partners and one browser per person.

Import the fixtures into a test module with
`from tests.reflections.page_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from coprod import policy
from coprod.accounts.models import Role
from coprod.extensions import db
from coprod.reflections import operations
from tests.conftest import count_statements
from tests.factories import PASSWORD, CollaborationFactory, PartnerFactory, member

__all__ = ["world", "browser_for", "post", "reflection_form", "count_queries", "CLASSIFIED"]

CLASSIFIED = dict(kind="improve", perspective="citizens", component="routines",
                  learning_level="inter", mode="exploitation")


@pytest.fixture
def world(db):
    """Meaningful work: job centre, café, animal shelter; a member of each role; elsewhere."""
    collab = CollaborationFactory(title="Meaningful work", timezone="Europe/Copenhagen")
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    shelter = PartnerFactory(collaboration=collab, organization__name="Animal shelter")
    people = SimpleNamespace(
        coordinator=member(collab, Role.COORDINATOR, display_name="Cora Coordinator").user,
        jens=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens Jobcentre").user,
        julie=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Julie Jobcentre").user,
        carla=member(collab, Role.PARTNER_STAFF, cafe, display_name="Carla Cafe").user,
        sam=member(collab, Role.PARTNER_STAFF, shelter, display_name="Sam Shelter").user,
        citizen=member(collab, Role.CITIZEN, display_name="Cit Izen").user,
        observer=member(collab, Role.OBSERVER, display_name="Olga Observer").user,
    )
    elsewhere = CollaborationFactory(title="Somewhere else entirely")
    other_partner = PartnerFactory(collaboration=elsewhere, organization__name="Other org")
    outsider = member(elsewhere, Role.COORDINATOR, other_partner,
                      display_name="Otto Outsider").user
    db.session.commit()
    return SimpleNamespace(collab=collab, job_centre=job_centre, cafe=cafe, shelter=shelter,
                           people=people, elsewhere=elsewhere, other_partner=other_partner,
                           outsider=outsider)


@pytest.fixture
def browser_for(new_client):
    """A browser (test client) logged in as the user, through the real log-in form."""
    made = {}

    def _browser(user):
        if user.id not in made:
            client = new_client()
            response = client.post("/login", data={"email": user.email, "password": PASSWORD})
            assert response.status_code == 302, response.get_data(as_text=True)
            made[user.id] = client
        return made[user.id]

    return _browser


def post(collab, user, body="Handovers between us get lost", **fields):
    """A reflection posted through the operation (setting up, not under test)."""
    values = {**CLASSIFIED, "visibility": "collaboration", **fields}
    reflection = operations.post_reflection(policy.actor_for(user), collab, body=body,
                                            **values)
    db.session.commit()
    return reflection


def reflection_form(**overrides) -> dict:
    """What the post form sends when filled in."""
    return {**CLASSIFIED, "body": "Handovers between us get lost", "tags": "handover",
            "visibility": "collaboration", "attribution": "person", **overrides}


def count_queries(fn) -> int:
    """How many SQL statements fn() runs."""
    return count_statements(db, fn)


def attribute_in_tag(html: str, attribute: str) -> bool:
    """Does any HTML tag carry this attribute (not merely mention it in escaped text)?"""
    return re.search(rf"<[a-zA-Z][^<>]*\s{attribute}\s*=", html) is not None
