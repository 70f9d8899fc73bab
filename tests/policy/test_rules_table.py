"""Role x action x object: the expected answer of the policy, written out as a table.

For every cell, the per-object answer (policy.may) must match the expectation, the object
must be in the SQL-filtered list exactly when allowed, and get_or_404 must answer 404 for
what the actor may not read and 403 for what they may read but not change (all three by
tests/policy/tables.check_table).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.extensions import db
from coprod.spaces.models import CharterRevision, CollaborationStatus
from coprod.spaces.operations import update_charter
from tests.factories import (
    ApiTokenFactory,
    CollaborationFactory,
    InvitationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
    UserFactory,
)
from tests.policy.tables import COORD, MEMBERS, NOBODY, ROLES, World, base_world, check_table

# object name -> action -> roles allowed, in an ACTIVE collaboration
ACTIVE = {
    "collaboration": {"read": MEMBERS, "update": COORD, "edit": COORD,
                      "manage_partners": COORD, "invite": COORD, "read_invitations": COORD,
                      "post_reflection": MEMBERS - {"observer"},
                      "start_conversation": MEMBERS, "edit_service_map": COORD},
    "charter": {"read": MEMBERS, "update": COORD},
    "revision": {"read": MEMBERS},
    "partner_a": {"read": MEMBERS, "update": COORD | {"staff_a"}, "delete": COORD},
    "partner_b": {"read": MEMBERS, "update": COORD | {"staff_b"}, "delete": COORD},
    "responsibility_a": {"read": MEMBERS},
    "resource_a": {"read": MEMBERS},
    "membership_of_citizen": {"read": MEMBERS, "update": COORD,
                              "delete": COORD | {"citizen"}, "read_email": COORD | {"citizen"}},
    "invitation": {"read": COORD, "revoke": COORD},
    "organization_a": {"read": MEMBERS},
    "organization_elsewhere": {"read": {"outsider"}},
    "user_citizen": {"read": MEMBERS},
    "user_stranger": {"read": NOBODY},
    "token_of_citizen": {"read": {"citizen"}, "revoke": {"citizen"}},
}

# In an archived space everything stays readable; only coordinators may reopen it, and
# members may still leave.
ARCHIVED = {
    **ACTIVE,
    "collaboration": {"read": MEMBERS, "update": COORD, "edit": NOBODY,
                      "manage_partners": NOBODY, "invite": NOBODY, "read_invitations": COORD,
                      "post_reflection": NOBODY, "start_conversation": NOBODY,
                      "edit_service_map": NOBODY},
    "charter": {"read": MEMBERS, "update": NOBODY},
    "partner_a": {"read": MEMBERS, "update": NOBODY, "delete": NOBODY},
    "partner_b": {"read": MEMBERS, "update": NOBODY, "delete": NOBODY},
    "membership_of_citizen": {"read": MEMBERS, "update": NOBODY,
                              "delete": COORD | {"citizen"}, "read_email": COORD | {"citizen"}},
    "invitation": {"read": COORD, "revoke": NOBODY},
}


def space_objects(world: World) -> dict:
    """The space's own rows (a charter revision, a responsibility, a resource, an invitation,
    a token), an organization elsewhere and a user of no space."""
    collab, (partner_a, partner_b), people = world.collab, world.partners, world.people
    update_charter(world.actor("coordinator"), collab.charter, why="w", resources="r",
                   assets="a", routines="t")
    db.session.flush()
    return {
        "collaboration": collab,
        "charter": collab.charter,
        "revision": db.session.scalar(select(CharterRevision)),
        "partner_a": partner_a,
        "partner_b": partner_b,
        "responsibility_a": ResponsibilityFactory(partner=partner_a),
        "resource_a": ResourceFactory(partner=partner_a),
        "membership_of_citizen": people["citizen"],
        "invitation": InvitationFactory(collaboration=collab),
        "organization_a": partner_a.organization,
        "organization_elsewhere": PartnerFactory(collaboration=world.elsewhere).organization,
        "user_citizen": people["citizen"].user,
        "user_stranger": UserFactory(),
        "token_of_citizen": ApiTokenFactory(user=people["citizen"].user),
    }


@pytest.mark.parametrize("status", ["active", "archived"])
def test_policy_table(db, status):
    """One world per status; every cell of the table checked three ways."""
    world = base_world(CollaborationStatus(status), space_objects)
    table = ACTIVE if status == "active" else ARCHIVED
    failures = check_table(table, world.objects, world.actors, ROLES, label=status)
    assert not failures, "\n".join(failures)


def test_unknown_rule_is_an_error_not_an_allow(db):
    collab = CollaborationFactory()
    with pytest.raises(LookupError):
        policy.may(policy.SYSTEM, "obliterate", collab)
