"""Fixtures of the collaboration page tests: a space with one member of each role, a second
space nobody here belongs to, and helpers reading what a page shows.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coprod.accounts.models import Role
from tests.factories import (
    CollaborationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
    member,
)


@pytest.fixture
def space(db):
    """One collaboration with two partners and one member of each role, and one elsewhere."""
    collab = CollaborationFactory(title="Meaningful work")
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    ResponsibilityFactory(partner=job_centre, description="Matches citizens with workplaces")
    ResourceFactory(partner=job_centre, description="Know-how about job matching")
    people = SimpleNamespace(
        coordinator=member(collab, Role.COORDINATOR, display_name="Cora Coordinator"),
        staff_a=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens Jobcentre"),
        staff_b=member(collab, Role.PARTNER_STAFF, cafe, display_name="Carla Cafe"),
        citizen=member(collab, Role.CITIZEN, display_name="Cit Izen"),
        observer=member(collab, Role.OBSERVER, display_name="Olga Observer"),
    )
    elsewhere = CollaborationFactory(title="Somewhere else entirely")
    other_partner = PartnerFactory(collaboration=elsewhere, organization__name="Other org")
    outsider = member(elsewhere, Role.COORDINATOR, display_name="Otto Outsider")
    db.session.commit()
    return SimpleNamespace(collab=collab, job_centre=job_centre, cafe=cafe, people=people,
                           elsewhere=elsewhere, other_partner=other_partner, outsider=outsider)
