"""Role x action x object: the expected answer of the policy, written out as a table.

For every cell, the per-object answer (policy.may) must match the expectation, the object
must be in the SQL-filtered list exactly when allowed, and get_or_404 must answer 404 for
what the actor may not read and 403 for what they may read but not change.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.accounts.models import Role
from coprod.spaces.models import (
    CharterRevision,
    CollaborationStatus,
)
from coprod.spaces.operations import update_charter
from tests.factories import (
    ApiTokenFactory,
    CollaborationFactory,
    InvitationFactory,
    PartnerFactory,
    ResourceFactory,
    ResponsibilityFactory,
    UserFactory,
    member,
)

ROLES = ["coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer", "outsider",
         "anonymous"]
MEMBERS = {"coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer"}
EVERYONE_IN = MEMBERS
COORD = {"coordinator"}
NOBODY: set[str] = set()

# object name -> action -> roles allowed, in an ACTIVE collaboration
ACTIVE = {
    "collaboration": {"read": EVERYONE_IN, "update": COORD, "edit": COORD,
                      "manage_partners": COORD, "invite": COORD, "read_invitations": COORD,
                      "post_reflection": EVERYONE_IN - {"observer"},
                      "start_conversation": EVERYONE_IN, "edit_service_map": COORD},
    "charter": {"read": EVERYONE_IN, "update": COORD},
    "revision": {"read": EVERYONE_IN},
    "partner_a": {"read": EVERYONE_IN, "update": COORD | {"staff_a"}, "delete": COORD},
    "partner_b": {"read": EVERYONE_IN, "update": COORD | {"staff_b"}, "delete": COORD},
    "responsibility_a": {"read": EVERYONE_IN},
    "resource_a": {"read": EVERYONE_IN},
    "membership_of_citizen": {"read": EVERYONE_IN, "update": COORD,
                              "delete": COORD | {"citizen"}, "read_email": COORD | {"citizen"}},
    "invitation": {"read": COORD, "revoke": COORD},
    "organization_a": {"read": EVERYONE_IN},
    "organization_elsewhere": {"read": {"outsider"}},
    "user_citizen": {"read": EVERYONE_IN},
    "user_stranger": {"read": NOBODY},
    "token_of_citizen": {"read": {"citizen"}, "revoke": {"citizen"}},
}

# In an archived space everything stays readable; only coordinators may reopen it, and
# members may still leave.
ARCHIVED = {
    **ACTIVE,
    "collaboration": {"read": EVERYONE_IN, "update": COORD, "edit": NOBODY,
                      "manage_partners": NOBODY, "invite": NOBODY, "read_invitations": COORD,
                      "post_reflection": NOBODY, "start_conversation": NOBODY,
                      "edit_service_map": NOBODY},
    "charter": {"read": EVERYONE_IN, "update": NOBODY},
    "partner_a": {"read": EVERYONE_IN, "update": NOBODY, "delete": NOBODY},
    "partner_b": {"read": EVERYONE_IN, "update": NOBODY, "delete": NOBODY},
    "membership_of_citizen": {"read": EVERYONE_IN, "update": NOBODY,
                              "delete": COORD | {"citizen"}, "read_email": COORD | {"citizen"}},
    "invitation": {"read": COORD, "revoke": NOBODY},
}


def build_world(status: CollaborationStatus) -> tuple[dict, dict]:
    """One collaboration with two partners and one member of each role; one space elsewhere."""
    collab = CollaborationFactory(status=status)
    partner_a, partner_b = PartnerFactory(collaboration=collab), PartnerFactory(
        collaboration=collab)
    people = {
        "coordinator": member(collab, Role.COORDINATOR),
        "staff_a": member(collab, Role.PARTNER_STAFF, partner_a),
        "staff_b": member(collab, Role.PARTNER_STAFF, partner_b),
        "citizen": member(collab, Role.CITIZEN),
        "guardian": member(collab, Role.GUARDIAN),
        "observer": member(collab, Role.OBSERVER),
    }
    elsewhere = CollaborationFactory()
    outsider = member(elsewhere, Role.COORDINATOR)
    people["outsider"] = outsider
    org_elsewhere = PartnerFactory(collaboration=elsewhere).organization
    stranger = UserFactory()
    status_now = collab.status
    collab.status = CollaborationStatus.ACTIVE
    coordinator = policy.actor_for(people["coordinator"].user)
    update_charter(coordinator, collab.charter, why="w", resources="r", assets="a", routines="t")
    collab.status = status_now
    objects = {
        "collaboration": collab,
        "charter": collab.charter,
        "revision": collab.charter.revisions[0] if collab.charter.revisions else None,
        "partner_a": partner_a,
        "partner_b": partner_b,
        "responsibility_a": ResponsibilityFactory(partner=partner_a),
        "resource_a": ResourceFactory(partner=partner_a),
        "membership_of_citizen": people["citizen"],
        "invitation": InvitationFactory(collaboration=collab),
        "organization_a": partner_a.organization,
        "organization_elsewhere": org_elsewhere,
        "user_citizen": people["citizen"].user,
        "user_stranger": stranger,
        "token_of_citizen": ApiTokenFactory(user=people["citizen"].user),
    }
    from coprod.extensions import db

    db.session.commit()
    objects["revision"] = db.session.scalar(select(CharterRevision))
    actors = {name: policy.actor_for(m.user) for name, m in people.items()}
    actors["anonymous"] = policy.Actor(user_id=None)
    return objects, actors


CASES = [
    (status, obj, action, role)
    for status, table in (("active", ACTIVE), ("archived", ARCHIVED))
    for obj, actions in table.items()
    for action in actions
    for role in ROLES
]


@pytest.fixture
def worlds(db):
    built = {}

    def get(status):
        if status not in built:
            built[status] = build_world(CollaborationStatus(status))
        return built[status]

    return get


@pytest.mark.parametrize("status", ["active", "archived"])
def test_policy_table(worlds, db, status):
    """One world per status; every cell of the table checked three ways."""
    objects, actors = worlds(status)
    table = ACTIVE if status == "active" else ARCHIVED
    failures = []
    for obj_name, actions in table.items():
        obj = objects[obj_name]
        model = type(obj)
        pk = model.__mapper__.primary_key[0]
        ident = getattr(obj, pk.key)
        for action, allowed_roles in actions.items():
            for role in ROLES:
                actor = actors[role]
                expected = role in allowed_roles
                got = policy.may(actor, action, obj)
                listed = ident in set(db.session.scalars(
                    select(pk).select_from(model).where(policy.where(actor, model, action))))
                if got != expected or listed != expected:
                    failures.append(f"{status} {role} {action} {obj_name}: expected "
                                    f"{expected}, may={got}, in list={listed}")
                    continue
                reads = role in table[obj_name]["read"]
                try:
                    policy.get_or_404(actor, model, ident, action)
                    outcome = "ok"
                except NotFound:
                    outcome = "404"
                except Forbidden:
                    outcome = "403"
                want = "ok" if expected else ("403" if reads else "404")
                if outcome != want:
                    failures.append(f"{status} {role} {action} {obj_name}: get_or_404 gave "
                                    f"{outcome}, expected {want}")
    assert not failures, "\n".join(failures)


def test_unknown_rule_is_an_error_not_an_allow(db):
    collab = CollaborationFactory()
    with pytest.raises(LookupError):
        policy.may(policy.SYSTEM, "obliterate", collab)
