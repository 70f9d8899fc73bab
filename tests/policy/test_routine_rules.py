"""Role x action for routines, prompts, a member's leave and notifications, written out.

Coordinators run routines and read response rates; every member reads routines and may take
leave while the space is active; a prompt and a notification are their member's own (and
answering a prompt needs a member who speaks: an observer's prompt can be read, not answered).
Every cell is checked three ways by tests/policy/tables.check_table: policy.may, the SQL
filter, and get_or_404's 404 (unreadable) or 403 (readable but not allowed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.common import utcnow
from coprod.extensions import db
from coprod.routines import operations as routines
from coprod.routines.models import Notification, NotificationKind, Prompt, Routine
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.policy.tables import COORD, MEMBERS, NOBODY, ROLES, World, base_world, check_table

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


def routine_objects(world: World) -> dict:
    """A routine, prompts of staff_a and of the observer and a notification of staff_a; a
    routine in the space elsewhere."""
    collab, people = world.collab, world.people
    routine = routines.create_routine(world.actor("coordinator"), collab, name="Fortnightly",
                                      cadence="fortnightly", weekday="TU", time="09:00")
    other = routines.create_routine(world.actor("outsider"), world.elsewhere, name="Theirs",
                                    cadence="weekly", weekday="MO", time="08:00")
    notification = Notification(user_id=people["staff_a"].user_id, collaboration_id=collab.id,
                                kind=NotificationKind.REPLY, key="reply:1", about="reflection:1")
    db.session.add(notification)
    return {"collaboration": collab, "routine": routine, "routine_elsewhere": other,
            "prompt_of_staff_a": _prompt(routine, people["staff_a"]),
            "prompt_of_observer": _prompt(routine, people["observer"]),
            "notification_of_staff_a": notification}


@pytest.mark.parametrize("status", ["active", "archived"])
def test_routine_policy_table(db, status):
    world = base_world(CollaborationStatus(status), routine_objects)
    table = ACTIVE if status == "active" else ARCHIVED
    failures = check_table(table, world.objects, world.actors, ROLES, label=status)
    assert not failures, "\n".join(failures)


def test_a_former_member_no_longer_reads_their_prompt(db):
    """A prompt is its member's own only while they are a member."""
    world = base_world(CollaborationStatus.ACTIVE, routine_objects)
    prompt = world.objects["prompt_of_staff_a"]
    staff = world.actors["staff_a"]
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
