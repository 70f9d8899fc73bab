"""Role x action x object for the service map, checked three ways like the space table
(tests/policy/tables.check_table): policy.may, the SQL filter, and get_or_404 (404
unreadable, 403 read-only)."""

from __future__ import annotations

import pytest

from coprod.extensions import db
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import CollaborationStatus
from tests.policy.tables import COORD, MEMBERS, NOBODY, ROLES, World, base_world, check_table

ROWS = {Activity: "activity", InformationCategory: "category", InformationFlow: "flow"}
WRITES = ("create", "update", "delete")
ACTIVE = {name: {"read": MEMBERS, **{w: COORD for w in WRITES}} for name in ROWS.values()}
ARCHIVED = {name: {"read": MEMBERS, **{w: NOBODY for w in WRITES}}
            for name in ROWS.values()}


def map_objects(world: World) -> dict:
    """One activity performed by the first partner, a category, and a flow between partners."""
    collab, (first, second) = world.collab, world.partners
    category = InformationCategory(collaboration_id=collab.id, name="Support needs")
    activity = Activity(collaboration_id=collab.id, position=1, name="First meeting",
                        performers=[first])
    flow = InformationFlow(collaboration_id=collab.id, activity=activity,
                           from_partner=first, to_partner=second, categories=[category])
    db.session.add_all([category, activity, flow])
    return {"activity": activity, "category": category, "flow": flow}


@pytest.mark.parametrize("status", ["active", "archived"])
def test_service_map_table(db, status):
    """Every cell: members read, coordinators of an active space write, outsiders see nothing."""
    world = base_world(CollaborationStatus(status), map_objects)
    table = ACTIVE if status == "active" else ARCHIVED
    failures = check_table(table, world.objects, world.actors, ROLES, label=status)
    assert not failures, "\n".join(failures)
