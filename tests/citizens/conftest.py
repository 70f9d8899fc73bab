"""A small Meaningful-work world for the citizen and consent tests.

Partners: the job centre (case worker), the café, the animal shelter. The citizen "Citizen A"
takes part in "Find a workplace" (job centre and café perform it); the shelter performs
"Volunteering", which is not part of this citizen's service. A flow at "Find a workplace"
carries work preferences from the job centre to the café. The citizen (the guardian, in
fact) consents to the job centre and the café receiving contact details and work
preferences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from coprod.accounts.models import Role, User
from coprod.citizens import operations as citizens
from coprod.citizens.models import Citizen, Consent, ConsentGiver, ConsentMethod
from coprod.policy import actor_for
from coprod.servicemap import operations as servicemap
from coprod.servicemap.models import Activity, InformationCategory
from coprod.spaces.models import Collaboration, Partner
from tests.factories import (
    CollaborationFactory,
    OrganizationFactory,
    PartnerFactory,
    UserFactory,
    member,
)


@dataclass
class World:
    collaboration: Collaboration
    jobcentre: Partner
    cafe: Partner
    shelter: Partner
    coordinator: User          # speaks for the job centre
    lone_coordinator: User     # speaks for no partner
    case_worker: User          # job centre staff
    cafe_staff: User
    shelter_staff: User
    guardian: User
    citizen_user: User
    workplace: Activity
    volunteering: Activity
    contact: InformationCategory
    preferences: InformationCategory
    support: InformationCategory
    citizen: Citizen
    consent: Consent

    def actor(self, user):
        return actor_for(user)


def build_world(db) -> World:
    collab = CollaborationFactory(title="Meaningful work", timezone="Europe/Copenhagen")
    jobcentre = PartnerFactory(collaboration=collab,
                               organization=OrganizationFactory(name="Job centre"))
    cafe = PartnerFactory(collaboration=collab, organization=OrganizationFactory(name="Café"))
    shelter = PartnerFactory(collaboration=collab,
                             organization=OrganizationFactory(name="Animal shelter"))
    coordinator = member(collab, Role.COORDINATOR, jobcentre, display_name="Coordinator").user
    lone = member(collab, Role.COORDINATOR, None, display_name="Lone coordinator").user
    case_worker = member(collab, Role.PARTNER_STAFF, jobcentre, display_name="Case worker").user
    cafe_staff = member(collab, Role.PARTNER_STAFF, cafe, display_name="Café staff").user
    shelter_staff = member(collab, Role.PARTNER_STAFF, shelter,
                           display_name="Shelter staff").user
    guardian = UserFactory(display_name="Guardian")
    citizen_user = UserFactory(display_name="Citizen user")
    db.session.flush()
    boss = actor_for(coordinator)
    contact = servicemap.create_category(boss, collab, name="Contact details")
    preferences = servicemap.create_category(boss, collab, name="Work preferences")
    support = servicemap.create_category(boss, collab, name="Support needs")
    workplace = servicemap.create_activity(boss, collab, name="Find a workplace",
                                           performer_ids=[jobcentre.id, cafe.id])
    volunteering = servicemap.create_activity(boss, collab, name="Volunteering",
                                              performer_ids=[shelter.id])
    servicemap.create_flow(boss, workplace, from_partner_id=jobcentre.id,
                           to_partner_id=cafe.id, category_ids=[preferences.id])
    citizen = citizens.create_citizen(
        boss, collab, pseudonym="Citizen A", name="Anna Jensen", details="Likes animals",
        activity_ids=[workplace.id], user_id=citizen_user.id, guardian_ids=[guardian.id])
    consent = citizens.give_consent(
        boss, citizen, partner_ids=[jobcentre.id, cafe.id],
        category_ids=[contact.id, preferences.id], purpose="Finding meaningful work",
        starts_on=date.today() - timedelta(days=1), given_by=ConsentGiver.GUARDIAN,
        given_by_name="Guardian", method=ConsentMethod.PAPER)
    db.session.commit()
    return World(collab, jobcentre, cafe, shelter, coordinator, lone, case_worker, cafe_staff,
                 shelter_staff, guardian, citizen_user, workplace, volunteering, contact,
                 preferences, support, citizen, consent)


@pytest.fixture
def world(db) -> World:
    return build_world(db)
