"""Role x action for routines, prompts, a member's leave and notifications, written out.

Coordinators run routines and read response rates; every member reads routines and may take
leave while the space is active; a prompt and a notification are their member's own (and
answering a prompt needs a member who speaks: an observer's prompt can be read, not answered).
Every cell is checked three ways as in test_rules_table: policy.may, the SQL filter, and
get_or_404's 404 (unreadable) or 403 (readable but not allowed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.extensions import db
from coprod.routines import operations as routines
from coprod.routines.models import Notification, NotificationKind, Prompt, Routine
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.factories import CollaborationFactory, PartnerFactory, member

ROLES = ["coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer", "outsider",
         "anonymous"]
MEMBERS = {"coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer"}
COORD = {"coordinator"}
NOBODY: set[str] = set()

ACTIVE = {
    "collaboration": {"read": MEMBERS, "create_routine": COORD, "read_response_rates": COORD,
                      "take_leave": MEMBERS},
    "routine": {"read": MEMBERS, "update": COORD, "delete": COORD},
    "routine_elsewhere": {"read": {"outsider"}, "update": {"outsider"},
                          "delete": {"outsider"}},
    "prompt_of_staff_a": {"read": {"staff_a"}, "respond": {"staff_a"}},
    "prompt_of_observer": {"read": {"observer"}, "respond": NOBODY},
    "notification_of_staff_a": {"read": {"staff_a"}, "update": {"staff_a"}},
}
# Archived: everything stays readable, nothing new is prompted, answered or set up.
ARCHIVED = {
    **ACTIVE,
    "collaboration": {"read": MEMBERS, "create_routine": NOBODY,
                      "read_response_rates": COORD, "take_leave": NOBODY},
    "routine": {"read": MEMBERS, "update": NOBODY, "delete": NOBODY},
    "prompt_of_staff_a": {"read": {"staff_a"}, "respond": NOBODY},
}
MODELS = {"collaboration": Collaboration, "routine": Routine, "routine_elsewhere": Routine,
          "prompt_of_staff_a": Prompt, "prompt_of_observer": Prompt,
          "notification_of_staff_a": Notification}
# For tests/policy/test_coverage.py: every rule this table checks.
CHECKED = {(MODELS[name], action) for name, actions in ACTIVE.items() for action in actions}


def _prompt(routine: Routine, membership) -> Prompt:
    start = utcnow() - timedelta(days=1)
    prompt = Prompt(routine_id=routine.id, user_id=membership.user_id,
                    partner_id=membership.partner_id, period_start=start,
                    period_end=start + timedelta(weeks=1))
    db.session.add(prompt)
    return prompt


def build_world(status: CollaborationStatus) -> tuple[dict, dict]:
    """One collaboration with two partners and a member of each role, a routine, prompts and
    a notification; a routine in a space elsewhere."""
    collab = CollaborationFactory()
    partner_a, partner_b = (PartnerFactory(collaboration=collab),
                            PartnerFactory(collaboration=collab))
    people = {
        "coordinator": member(collab, Role.COORDINATOR),
        "staff_a": member(collab, Role.PARTNER_STAFF, partner_a),
        "staff_b": member(collab, Role.PARTNER_STAFF, partner_b),
        "citizen": member(collab, Role.CITIZEN),
        "guardian": member(collab, Role.GUARDIAN),
        "observer": member(collab, Role.OBSERVER),
    }
    elsewhere = CollaborationFactory()
    people["outsider"] = member(elsewhere, Role.COORDINATOR)
    actors = {name: policy.actor_for(m.user) for name, m in people.items()}
    routine = routines.create_routine(actors["coordinator"], collab, name="Fortnightly",
                                      cadence="fortnightly", weekday="TU", time="09:00")
    other = routines.create_routine(actors["outsider"], elsewhere, name="Theirs",
                                    cadence="weekly", weekday="MO", time="08:00")
    notification = Notification(user_id=people["staff_a"].user_id, collaboration_id=collab.id,
                                kind=NotificationKind.REPLY, key="reply:1", about="reflection:1")
    db.session.add(notification)
    objects = {"collaboration": collab, "routine": routine, "routine_elsewhere": other,
               "prompt_of_staff_a": _prompt(routine, people["staff_a"]),
               "prompt_of_observer": _prompt(routine, people["observer"]),
               "notification_of_staff_a": notification}
    collab.status = status
    db.session.commit()
    actors["anonymous"] = policy.Actor(user_id=None)
    return objects, actors


@pytest.mark.parametrize("status", ["active", "archived"])
def test_routine_policy_table(db, status):
    objects, actors = build_world(CollaborationStatus(status))
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
                try:
                    policy.get_or_404(actor, model, ident, action)
                    outcome = "ok"
                except NotFound:
                    outcome = "404"
                except Forbidden:
                    outcome = "403"
                reads = role in table[obj_name]["read"]
                want = "ok" if expected else ("403" if reads else "404")
                if outcome != want:
                    failures.append(f"{status} {role} {action} {obj_name}: get_or_404 gave "
                                    f"{outcome}, expected {want}")
    assert not failures, "\n".join(failures)


def test_a_former_member_no_longer_reads_their_prompt(db):
    """A prompt is its member's own only while they are a member."""
    objects, actors = build_world(CollaborationStatus.ACTIVE)
    prompt = objects["prompt_of_staff_a"]
    staff = actors["staff_a"]
    assert policy.may(staff, "read", prompt)
    from coprod.spaces.models import Membership

    db.session.delete(db.session.scalar(select(Membership).where(
        Membership.user_id == staff.user_id)))
    db.session.commit()
    staff.forget()
    assert not policy.may(staff, "read", prompt)
    assert not policy.may(staff, "respond", prompt)
    assert prompt.id not in set(db.session.scalars(select(Prompt.id).where(
        policy.where(staff, Prompt, "read"))))
