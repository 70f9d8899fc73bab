"""The service map's writes: order, performers, flows with categories, and clear refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from coprod.common import OperationError
from coprod.servicemap import operations as ops
from coprod.servicemap.models import Activity, InformationFlow
from coprod.spaces.models import CollaborationStatus


def _names(db, collab):
    return list(db.session.scalars(select(Activity.name).where(
        Activity.collaboration_id == collab.id).order_by(Activity.position)))


def test_activities_are_added_in_order_and_moved(db, space):
    """New activities go last; up/down swaps neighbours; deleting closes the gap."""
    first = ops.create_activity(space.coordinator, space.collab, name=" First  meeting ",
                                performer_ids=[space.job_centre.id])
    second = ops.create_activity(space.coordinator, space.collab, name="Finding a workplace",
                                 co_produced=True, performer_ids=[space.cafe.id,
                                                                  space.job_centre.id])
    third = ops.create_activity(space.coordinator, space.collab, name="Follow-up")
    assert first.name == "First meeting"
    assert [p.name for p in second.performers] == ["Job centre", "Café Solsikke"]
    assert _names(db, space.collab) == ["First meeting", "Finding a workplace", "Follow-up"]
    ops.move_activity(space.coordinator, third, ops.UP)
    assert _names(db, space.collab) == ["First meeting", "Follow-up", "Finding a workplace"]
    ops.move_activity(space.coordinator, first, ops.UP)  # already first: stays
    ops.move_activity(space.coordinator, first, ops.DOWN)
    assert _names(db, space.collab) == ["Follow-up", "First meeting", "Finding a workplace"]
    ops.delete_activity(space.coordinator, third)
    assert _names(db, space.collab) == ["First meeting", "Finding a workplace"]
    assert [a.position for a in (first, second)] == [1, 2]


def test_flow_carries_categories_between_two_partners(db, space):
    activity = ops.create_activity(space.coordinator, space.collab, name="First meeting")
    flow = ops.create_flow(space.coordinator, activity, from_partner_id=space.job_centre.id,
                           to_partner_id=str(space.cafe.id),
                           category_ids=[space.needs.id, space.contact.id])
    db.session.commit()
    assert [c.name for c in flow.categories] == ["Contact details", "Support needs"]
    ops.delete_activity(space.coordinator, activity)
    db.session.commit()
    assert db.session.scalar(select(InformationFlow)) is None


@pytest.mark.parametrize("kwargs, field", [
    ({"from_partner_id": "same", "to_partner_id": "same"}, "to_partner_id"),
    ({"from_partner_id": "other", "to_partner_id": "cafe"}, "from_partner_id"),
    ({"from_partner_id": "cafe", "to_partner_id": ""}, "to_partner_id"),
    ({"from_partner_id": "cafe", "to_partner_id": "job", "category_ids": []}, "categories"),
    ({"from_partner_id": "cafe", "to_partner_id": "job", "category_ids": ["x"]}, "categories"),
])
def test_bad_flows_are_refused_with_the_field(db, space, kwargs, field):
    ids = {"same": space.cafe.id, "cafe": space.cafe.id, "job": space.job_centre.id,
           "other": space.other_partner.id, "": ""}
    activity = ops.create_activity(space.coordinator, space.collab, name="First meeting")
    args = {"category_ids": [space.needs.id], **kwargs}
    args["from_partner_id"] = ids[args["from_partner_id"]]
    args["to_partner_id"] = ids[args["to_partner_id"]]
    with pytest.raises(OperationError) as err:
        ops.create_flow(space.coordinator, activity, **args)
    assert err.value.field == field


def test_bad_activities_and_categories_are_refused(db, space):
    with pytest.raises(OperationError) as err:
        ops.create_activity(space.coordinator, space.collab, name="   ")
    assert err.value.field == "name"
    with pytest.raises(OperationError) as err:
        ops.create_activity(space.coordinator, space.collab, name="Meeting",
                            performer_ids=[space.other_partner.id])
    assert err.value.field == "performers"
    with pytest.raises(OperationError) as err:
        ops.create_category(space.coordinator, space.collab, name="support NEEDS")
    assert (err.value.field, err.value.status) == ("name", 409)


def test_a_category_in_use_is_kept(db, space):
    activity = ops.create_activity(space.coordinator, space.collab, name="Meeting")
    ops.create_flow(space.coordinator, activity, from_partner_id=space.cafe.id,
                    to_partner_id=space.job_centre.id, category_ids=[space.needs.id])
    with pytest.raises(OperationError) as err:
        ops.delete_category(space.coordinator, space.needs)
    assert err.value.status == 409
    ops.delete_category(space.coordinator, space.contact)
    ops.update_category(space.coordinator, space.needs, name="Needs for support")
    assert space.needs.name == "Needs for support"


def test_only_coordinators_of_an_active_space_edit(db, space):
    with pytest.raises(Forbidden):
        ops.create_activity(space.staff_actor, space.collab, name="Meeting")
    space.collab.status = CollaborationStatus.ARCHIVED
    db.session.flush()
    with pytest.raises(Forbidden):
        ops.create_activity(space.coordinator, space.collab, name="Meeting")
