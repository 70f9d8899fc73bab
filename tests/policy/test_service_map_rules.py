"""Role x action x object for the service map, checked three ways like the space table:
policy.may, the SQL filter, and get_or_404 (404 unreadable, 403 read-only)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.extensions import db
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import CollaborationStatus, Partner
from tests.policy.test_rules_table import COORD, EVERYONE_IN, NOBODY, ROLES, build_world

ROWS = {Activity: "activity", InformationCategory: "category", InformationFlow: "flow"}
WRITES = ("create", "update", "delete")
ACTIVE = {name: {"read": EVERYONE_IN, **{w: COORD for w in WRITES}} for name in ROWS.values()}
ARCHIVED = {name: {"read": EVERYONE_IN, **{w: NOBODY for w in WRITES}}
            for name in ROWS.values()}


def map_objects(collab) -> dict:
    """One activity performed by the first partner, a category, and a flow between partners."""
    partners = list(db.session.scalars(
        select(Partner).where(Partner.collaboration_id == collab.id).order_by(Partner.id)))
    category = InformationCategory(collaboration_id=collab.id, name="Support needs")
    activity = Activity(collaboration_id=collab.id, position=1, name="First meeting",
                        performers=[partners[0]])
    flow = InformationFlow(collaboration_id=collab.id, activity=activity,
                           from_partner=partners[0], to_partner=partners[1],
                           categories=[category])
    db.session.add_all([category, activity, flow])
    db.session.commit()
    return {"activity": activity, "category": category, "flow": flow}


@pytest.mark.parametrize("status", ["active", "archived"])
def test_service_map_table(db, status):
    """Every cell: members read, coordinators of an active space write, outsiders see nothing."""
    objects, actors = build_world(CollaborationStatus(status))
    things = map_objects(objects["collaboration"])
    table = ACTIVE if status == "active" else ARCHIVED
    failures = []
    for name, actions in table.items():
        obj = things[name]
        model = type(obj)
        for action, allowed in actions.items():
            for role in ROLES:
                actor = actors[role]
                expected = role in allowed
                got = policy.may(actor, action, obj)
                listed = obj.id in set(db.session.scalars(
                    select(model.id).where(policy.where(actor, model, action))))
                if got != expected or listed != expected:
                    failures.append(f"{status} {role} {action} {name}: expected {expected}, "
                                    f"may={got}, in list={listed}")
                    continue
                try:
                    policy.get_or_404(actor, model, obj.id, action)
                    outcome = "ok"
                except NotFound:
                    outcome = "404"
                except Forbidden:
                    outcome = "403"
                want = "ok" if expected else ("403" if role in actions["read"] else "404")
                if outcome != want:
                    failures.append(f"{status} {role} {action} {name}: get_or_404 gave "
                                    f"{outcome}, expected {want}")
    assert not failures, "\n".join(failures)
