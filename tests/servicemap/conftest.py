"""Fixtures of the service map tests: a space with three partners, one member of each role,
two categories, and a second space nobody here belongs to."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coprod import policy
from coprod.accounts.models import Role
from tests.factories import CollaborationFactory, PartnerFactory, member


@pytest.fixture
def space(db):
    """One collaboration with partners, members and categories, and one elsewhere."""
    from coprod.servicemap.models import InformationCategory

    collab = CollaborationFactory(title="Meaningful work")
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    care_home = PartnerFactory(collaboration=collab, organization__name="Care home Egely")
    people = SimpleNamespace(
        coordinator=member(collab, Role.COORDINATOR, display_name="Cora Coordinator"),
        staff=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens Jobcentre"),
        observer=member(collab, Role.OBSERVER, display_name="Olga Observer"),
    )
    db.session.flush()
    contact = InformationCategory(collaboration_id=collab.id, name="Contact details")
    needs = InformationCategory(collaboration_id=collab.id, name="Support needs")
    db.session.add_all([contact, needs])
    elsewhere = CollaborationFactory(title="Somewhere else entirely")
    other_partner = PartnerFactory(collaboration=elsewhere, organization__name="Other org")
    outsider = member(elsewhere, Role.COORDINATOR, display_name="Otto Outsider")
    db.session.commit()
    return SimpleNamespace(
        collab=collab, job_centre=job_centre, cafe=cafe, care_home=care_home, people=people,
        contact=contact, needs=needs, elsewhere=elsewhere, other_partner=other_partner,
        outsider=outsider, coordinator=policy.actor_for(people.coordinator.user),
        staff_actor=policy.actor_for(people.staff.user))
