"""/api/v1/collaborations/{id}/map: the service map (activities in order with performers and
information flows, and the categories of information). Members read; coordinators write."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.schemas import PartnerSummarySchema, text
from coprod.servicemap import operations, queries
from coprod.servicemap.models import (
    CATEGORY_NAME_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    Activity,
    InformationCategory,
    InformationFlow,
)

blp = ApiBlueprint("service_map", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/map",
                   description="The service map: who does what, and which information flows "
                               "where.")


# -- schemas --------------------------------------------------------------------------------

class CategorySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()


class CategorySummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()


class FlowSchema(Schema):
    id = fields.Integer()
    activity_id = fields.Integer()
    from_partner = fields.Nested(PartnerSummarySchema)
    to_partner = fields.Nested(PartnerSummarySchema)
    categories = fields.List(fields.Nested(CategorySummarySchema))


class ActivitySchema(Schema):
    id = fields.Integer()
    position = fields.Integer(metadata={"description": "1 for the first step of the service."})
    name = fields.String()
    description = fields.String()
    co_produced = fields.Boolean(metadata={"description": "Done together with citizens."})
    performers = fields.List(fields.Nested(PartnerSummarySchema))
    flows = fields.List(fields.Nested(FlowSchema))


class ServiceMapSchema(Schema):
    activities = fields.List(fields.Nested(ActivitySchema))
    categories = fields.List(fields.Nested(CategorySchema))


def _description():
    return fields.String(validate=validate.Length(max=DESCRIPTION_MAX))


class ActivityCreateSchema(Schema):
    name = text(NAME_MAX, required=True)
    description = _description()
    co_produced = fields.Boolean()
    performer_ids = fields.List(fields.Integer(), metadata={
        "description": "Partners of this collaboration that perform the activity."})


class ActivityUpdateSchema(ActivityCreateSchema):
    name = text(NAME_MAX)
    move = fields.String(validate=validate.OneOf([operations.UP, operations.DOWN]), metadata={
        "description": "Move the activity one place up or down in the order."})


class CategoryCreateSchema(Schema):
    name = text(CATEGORY_NAME_MAX, required=True)
    description = _description()


class CategoryUpdateSchema(CategoryCreateSchema):
    name = text(CATEGORY_NAME_MAX)


class FlowCreateSchema(Schema):
    activity_id = fields.Integer(required=True)
    from_partner_id = fields.Integer(required=True)
    to_partner_id = fields.Integer(required=True)
    category_ids = fields.List(fields.Integer(), required=True)


# -- routes ---------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


@blp.route("")
class ServiceMap(MethodView):
    @blp.response(200, ServiceMapSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int):
        """The activities in order, with performers and flows, and the categories."""
        return queries.service_map(_actor(), collaboration_or_404(collaboration_id))


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityCreateSchema)
    @blp.response(201, ActivitySchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int):
        """Add an activity at the end of the service."""
        activity = operations.create_activity(
            _actor(), collaboration_or_404(collaboration_id), **data)
        return activity


@blp.route("/activities/<int:activity_id>")
class ActivityItem(MethodView):
    @blp.arguments(ActivityUpdateSchema)
    @blp.response(200, ActivitySchema)
    @blp.fails_with(403, 404)
    def patch(self, data, collaboration_id: int, activity_id: int):
        """Change an activity (fields left out stay) and/or move it up or down."""
        activity = object_in(Activity, collaboration_id, activity_id)
        move = data.pop("move", None)
        current = {"name": activity.name, "description": activity.description,
                   "co_produced": activity.co_produced,
                   "performer_ids": [p.id for p in activity.performers]}
        operations.update_activity(_actor(), activity, **{**current, **data})
        if move:
            operations.move_activity(_actor(), activity, move)
        return activity

    @blp.response(204)
    @blp.fails_with(403, 404)
    def delete(self, collaboration_id: int, activity_id: int):
        """Remove an activity and its flows; the ones after it move up."""
        operations.delete_activity(_actor(), object_in(Activity, collaboration_id, activity_id))


@blp.route("/flows")
class Flows(MethodView):
    @blp.arguments(FlowCreateSchema)
    @blp.response(201, FlowSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int):
        """At an activity, information of some categories flows from one partner to another."""
        activity = object_in(Activity, collaboration_id, data.pop("activity_id"))
        flow = operations.create_flow(_actor(), activity, **data)
        return flow


@blp.route("/flows/<int:flow_id>")
class FlowItem(MethodView):
    @blp.response(204)
    @blp.fails_with(403, 404)
    def delete(self, collaboration_id: int, flow_id: int):
        """Remove an information flow."""
        operations.delete_flow(_actor(), object_in(InformationFlow, collaboration_id, flow_id))


@blp.route("/categories")
class Categories(MethodView):
    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategorySchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int):
        """Add a category of information."""
        category = operations.create_category(
            _actor(), collaboration_or_404(collaboration_id), **data)
        return category


@blp.route("/categories/<int:category_id>")
class CategoryItem(MethodView):
    @blp.arguments(CategoryUpdateSchema)
    @blp.response(200, CategorySchema)
    @blp.fails_with(403, 404, 409)
    def patch(self, data, collaboration_id: int, category_id: int):
        """Rename or describe a category (fields left out stay)."""
        category = object_in(InformationCategory, collaboration_id, category_id)
        fields_now = {"name": category.name, "description": category.description}
        operations.update_category(_actor(), category, **{**fields_now, **data})
        return category

    @blp.response(204)
    @blp.fails_with(403, 404, 409)
    def delete(self, collaboration_id: int, category_id: int):
        """Remove a category; 409 while a flow carries it."""
        operations.delete_category(
            _actor(), object_in(InformationCategory, collaboration_id, category_id))
