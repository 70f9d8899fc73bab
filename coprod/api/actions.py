"""/api/v1/collaborations/{id}/actions: improvements a partner committed to, and their progress.

An "improve" reflection becomes an action (POST .../reflections/{rid}/action) owned by one
partner organization; its staff and the coordinators move it along and, once it is done, say
what was done ("you said, we did") to everyone who reads the reflection.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import NotFound

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import (
    PartnerSummarySchema,
    Timestamp,
    UserSummarySchema,
    choice,
    text,
)
from coprod.extensions import db
from coprod.markdown import plain_excerpt, render_markdown
from coprod.reflections import operations, queries
from coprod.reflections.models import BODY_MAX, ActionStatus, ImprovementAction, Reflection
from coprod.reflections.operations import TITLE_MAX
from coprod.spaces.models import Collaboration

blp = ApiBlueprint("improvement_actions", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>",
                   description="Improvement actions: which partner does what by when, and "
                               "what was done.")


def today_in(collaboration_id: int) -> date:
    """Today in the collaboration's time zone, which decides when an action is overdue."""
    days = g.setdefault("coprod_today", {})
    if collaboration_id not in days:
        # The route loaded the collaboration already: this is an identity-map hit, no query.
        collaboration = db.session.get(Collaboration, collaboration_id)
        days[collaboration_id] = datetime.now(ZoneInfo(collaboration.timezone)).date()
    return days[collaboration_id]


def _overdue(action: ImprovementAction) -> bool:
    return action.is_overdue(today_in(action.reflection.collaboration_id))


# -- schemas --------------------------------------------------------------------------------

class ActionSummarySchema(Schema):
    """What a reflection in the feed tells about its action."""

    id = fields.Integer()
    title = fields.String()
    status = choice(ActionStatus)
    due_on = fields.Date(allow_none=True)
    overdue = fields.Function(_overdue, metadata={
        "type": "boolean",
        "description": "Past its due date (in the collaboration's time zone) and not done "
                       "or dropped."})


class ActionSchema(ActionSummarySchema):
    reflection_id = fields.Integer()
    reflection_excerpt = fields.Function(
        lambda action: plain_excerpt(action.reflection.body),
        metadata={"type": "string", "description": "The reflection's first words, as text."})
    owner_partner = fields.Nested(PartnerSummarySchema, metadata={
        "description": "The partner organization that owns the action."})
    owner_user = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "The member of the owning partner in charge, if one is named."})
    done_note = fields.String(allow_none=True, metadata={
        "description": "\"You said, we did\" (Markdown), written when the action is done."})
    done_note_html = fields.Function(
        lambda action: str(render_markdown(action.done_note)) if action.done_note else None,
        metadata={"type": "string", "nullable": True,
                  "description": "done_note rendered as sanitized HTML."})
    created_at = Timestamp()
    updated_at = Timestamp(allow_none=True)
    done_at = Timestamp(allow_none=True)


class ActionCreateSchema(Schema):
    title = text(TITLE_MAX, required=True, metadata={
        "description": "What will be done, in a line."})
    owner_partner_id = fields.Integer(required=True, metadata={
        "description": "The partner organization (of this collaboration) that owns it."})
    owner_user_id = fields.Integer(allow_none=True, metadata={
        "description": "Optionally, a member speaking for that partner."})
    due_on = fields.Date(allow_none=True)


class ActionUpdateSchema(Schema):
    status = choice(ActionStatus, metadata={
        "description": "done needs a done_note (now or already saved)."})
    title = text(TITLE_MAX)
    due_on = fields.Date(allow_none=True)
    owner_user_id = fields.Integer(allow_none=True, metadata={
        "description": "A member speaking for the owning partner, or null for nobody."})
    done_note = fields.String(allow_none=True, validate=validate.Length(max=BODY_MAX), metadata={
        "description": "\"You said, we did\": shown with the reflection to all its readers."})


class ActionListArgsSchema(PageArgsSchema):
    status = choice(ActionStatus, metadata={"description": "Only actions with this status."})


ActionPageSchema = page_schema(ActionSchema)


# -- routes ---------------------------------------------------------------------------------

def action_in(collaboration_id: int, action_id: int) -> ImprovementAction:
    """An action named in the URL under its collaboration; 404 if unreadable or elsewhere."""
    collaboration_or_404(collaboration_id)
    action = policy.get_or_404(policy.current_actor(), ImprovementAction, action_id)
    if action.reflection.collaboration_id != collaboration_id:
        raise NotFound()
    return action


@blp.route("/reflections/<int:reflection_id>/action")
class ReflectionAction(MethodView):
    @blp.arguments(ActionCreateSchema)
    @blp.response(201, ActionSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int, reflection_id: int):
        """Turn an "improve" reflection into an action one partner organization owns."""
        collaboration_or_404(collaboration_id)
        reflection = object_in(Reflection, collaboration_id, reflection_id)
        action = operations.create_action(policy.current_actor(), reflection, **data)
        return action


@blp.route("/actions")
class Actions(MethodView):
    @blp.arguments(ActionListArgsSchema, location="query")
    @blp.response(200, ActionPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """The actions on reflections the caller may read, soonest due first."""
        collaboration = collaboration_or_404(collaboration_id)
        stmt = queries.select_actions(policy.current_actor(), collaboration,
                                      status=args.get("status"))
        return paginate(stmt, args)


@blp.route("/actions/<int:action_id>")
class ActionItem(MethodView):
    @blp.response(200, ActionSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, action_id: int):
        """One action, with its owner, due date, status and "you said, we did" note."""
        return action_in(collaboration_id, action_id)

    @blp.arguments(ActionUpdateSchema)
    @blp.response(200, ActionSchema)
    @blp.fails_with(403, 404)
    def patch(self, data, collaboration_id: int, action_id: int):
        """Move an action along; fields left out keep their value (null clears one)."""
        action = action_in(collaboration_id, action_id)
        operations.update_action(
            policy.current_actor(), action,
            status=data.get("status", action.status),
            title=data.get("title"),
            due_on=data.get("due_on", action.due_on),
            owner_user_id=data.get("owner_user_id", action.owner_user_id),
            done_note=data.get("done_note", action.done_note),
        )
        return action
