"""One collaboration with one of every object, for tests that visit every route or form.

The pages' write test, the pages' out-of-range test and the API's Schemathesis run all need
the same thing: a collaboration its caller coordinates, holding a partner, members, an
invitation, a reflection with a reply and an action, a conversation, the service map, a
citizen with a consent, a routine and a digest, so that every URL names an object that
exists. Built through the operations, as a user would make it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coprod import policy
from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.common import utcnow
from coprod.digests import build as digest_build
from coprod.digests import periods
from coprod.messages import operations as messages
from coprod.reflections import operations as reflections
from coprod.routines import operations as routines
from coprod.servicemap import operations as service_map
from tests.factories import (
    CollaborationFactory,
    InvitationFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    member,
)

REFLECTION = {"kind": "improve", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation"}


@dataclass
class World:
    """The objects by name, and `ids`: their ids by the name a route gives them."""

    collaboration: object
    coordinator: object  # a Membership: the caller, speaking for `partner`
    staff: object
    observer: object
    objects: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["objects"][name]
        except KeyError:
            raise AttributeError(name) from None


def one_of_everything(title: str = "Meaningful work", coordinator_user=None) -> World:
    """A collaboration coordinated by `coordinator_user` (a new user if None), one of
    everything in it. Nothing is committed: the caller decides."""
    collab = CollaborationFactory(title=title)
    partner = PartnerFactory(collaboration=collab)
    second = PartnerFactory(collaboration=collab)
    coordinator = (member(collab, Role.COORDINATOR, partner) if coordinator_user is None
                   else _seat(collab, coordinator_user, partner))
    observer = member(collab, Role.OBSERVER)
    staff = member(collab, Role.PARTNER_STAFF, partner)
    invitation = InvitationFactory(collaboration=collab)
    caller = policy.actor_for(coordinator.user)
    author = policy.actor_for(staff.user)
    reflection = reflections.post_reflection(author, collab, body="Handovers get lost",
                                             **REFLECTION)
    reply = reflections.reply(author, reflection, "We see it too")
    action = reflections.create_action(caller, reflection, title="A handover note",
                                       owner_partner_id=partner.id)
    conversation = messages.start_conversation(caller, collab, [staff.user_id], "",
                                               "Shall we talk?")
    activity = service_map.create_activity(caller, collab, name="Job training",
                                           performer_ids=[partner.id])
    category = service_map.create_category(caller, collab, name="Contact details")
    flow = service_map.create_flow(caller, activity, from_partner_id=partner.id,
                                   to_partner_id=second.id, category_ids=[category.id])
    citizen_user = UserFactory(display_name="Peter")
    citizen = citizens.create_citizen(caller, collab, pseudonym="Citizen 17", name="Peter",
                                      activity_ids=[activity.id], user_id=citizen_user.id)
    consent = citizens.give_consent(caller, citizen, partner_ids=[partner.id],
                                    category_ids=[category.id], purpose="Job training")
    routine = routines.create_routine(caller, collab, name="Weekly", cadence="weekly",
                                      weekday="MO", time="09:00")
    digest = digest_build.build(collab, periods.period_at(collab, utcnow()))
    objects = {"partner": partner, "second": second, "invitation": invitation,
               "reflection": reflection, "reply": reply, "action": action,
               "conversation": conversation, "activity": activity, "category": category,
               "flow": flow, "citizen": citizen, "citizen_user": citizen_user, "consent": consent,
               "routine": routine, "digest": digest}
    ids = {"collaboration_id": collab.id, "partner_id": partner.id,
           "membership_id": observer.id, "invitation_id": invitation.id,
           "reflection_id": reflection.id, "reply_id": reply.id, "action_id": action.id,
           "conversation_id": conversation.id, "activity_id": activity.id,
           "flow_id": flow.id, "category_id": category.id, "citizen_id": citizen.id,
           "consent_id": consent.id, "routine_id": routine.id, "digest_id": digest.id}
    return World(collab, coordinator, staff, observer, objects, ids)


def _seat(collab, user, partner):
    return MembershipFactory(collaboration=collab, user=user, role=Role.COORDINATOR,
                             partner=partner)
