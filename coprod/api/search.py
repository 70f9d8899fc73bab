"""/api/v1/collaborations/{id}/search and /export: full-text search and the JSON export.

Both read through the policy in SQL, as the web pages do (coprod/search/queries.py,
coprod/reflections/export.py); the export is the very document the web's export.json streams.
"""

from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404
from coprod.api.pagination import PageArgsSchema, page_schema
from coprod.api.schemas import Timestamp, choice
from coprod.common import OperationError
from coprod.reflections import export
from coprod.reflections.models import (
    TAG_MAX,
    ActionStatus,
    Component,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Visibility,
)
from coprod.reflections.queries import FeedFilters
from coprod.search import queries
from coprod.search.views import hit_url

blp = ApiBlueprint("search_and_export", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>",
                   description="Full-text search and export of what the caller may read.")


# -- search ---------------------------------------------------------------------------------

class SearchArgsSchema(PageArgsSchema):
    q = fields.String(load_default="", validate=validate.Length(max=queries.QUERY_MAX),
                      metadata={"description": "Words to find (required; on PostgreSQL "
                                               "\"a phrase\", `or` and `-word` work too)."})
    before = fields.String(load_default=None, validate=validate.Length(max=40), metadata={
        "description": "The `older` of an earlier answer: the next set of results, older "
                       "than that one."})


def _query_or_422(q: str) -> str:
    """The query, or 422 when it holds no word (checked after the collaboration's 404)."""
    cleaned = queries.clean_query(q)
    if not cleaned:
        message = _("Type a word or two to search for.")
        abort(422, message=message, errors={"query": {"q": [message]}})
    return cleaned


class SearchHitSchema(Schema):
    kind = fields.String(validate=validate.OneOf(queries.KINDS),
                         metadata={"enum": list(queries.KINDS)})
    id = fields.Integer(metadata={"description": "The reflection's, reply's or message's id."})
    collaboration_id = fields.Integer()
    reflection_id = fields.Integer(allow_none=True, metadata={
        "description": "The reflection found, or the one a reply answers."})
    conversation_id = fields.Integer(allow_none=True)
    subject = fields.String(allow_none=True, metadata={
        "description": "The conversation's subject, for a message."})
    created_at = Timestamp()
    partner = fields.String(allow_none=True, metadata={
        "description": "The partner organization it was said for."})
    author = fields.String(allow_none=True, metadata={
        "description": "Null when the author signed with the organization only."})
    excerpt = fields.Function(lambda hit: str(hit.excerpt), metadata={
        "description": "HTML: escaped text around the first match, the words in <mark>."})
    url = fields.Function(hit_url, metadata={"description": "The item's page on this site."})


class SearchHitPageSchema(page_schema(SearchHitSchema)):
    """A page of the newest matches (at most queries.BOUND, best first); `more` and `older`
    lead to the older ones."""

    more = fields.Boolean(required=True, metadata={
        "description": f"More than {queries.BOUND} matches: `total` counts the newest "
                       f"{queries.BOUND}, which the pages go through; ask for the older ones "
                       "with before=`older`."})
    older = fields.String(required=True, allow_none=True, metadata={
        "description": "With `more`: the value of `before` that asks for the older results."})


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, SearchHitPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """Reflections, replies and messages the caller may read here: of the newest
        matches (at most 200), the best first; `older` asks for the ones before them."""
        collaboration = collaboration_or_404(collaboration_id)
        try:
            after = queries.Mark.parse(args["before"])
        except OperationError as err:
            abort(422, message=err.message, errors={"query": {"before": [err.message]}})
        found = queries.search(policy.current_actor(), _query_or_422(args["q"]), collaboration,
                               page=args["page"], page_size=args["page_size"], after=after)
        return {"items": found.hits, "page": found.page, "page_size": found.page_size,
                "total": found.total, "total_pages": found.total_pages, "more": found.more,
                "older": found.older.token() if found.older else None}


# -- export ---------------------------------------------------------------------------------

class ExportArgsSchema(Schema):
    """The feed's filters."""

    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    partner_id = fields.Integer(metadata={
        "description": "Only reflections posted on behalf of this partner organization."})
    tag = fields.String(validate=validate.Length(min=1, max=TAG_MAX))
    since = fields.Date(metadata={
        "description": "Posted on or after this day (UTC); not after until (422)."})
    until = fields.Date(metadata={
        "description": "Posted on or before this day (UTC); not before since (422)."})

    @validates_schema
    def _dates_in_order(self, data, **kwargs) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError(_("The end comes before the start."), "until")


class ExportedReplySchema(Schema):
    id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    partner = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    body = fields.String(metadata={"description": "Markdown source."})


class ExportedReflectionSchema(Schema):
    id = fields.Integer()
    created_at = fields.String(metadata={"format": "date-time"})
    kind = choice(Kind)
    perspective = choice(Perspective)
    component = choice(Component)
    learning_level = choice(LearningLevel)
    mode = choice(LearningMode)
    partner = fields.String(allow_none=True, metadata={
        "description": "The partner organization it was posted for."})
    author = fields.String(allow_none=True, metadata={
        "description": "Null when the author signed with the organization only (coordinators "
                       "and the author still see the name)."})
    visibility = choice(Visibility)
    tags = fields.List(fields.String())
    body = fields.String(metadata={"description": "Markdown source."})
    reply_count = fields.Integer()
    action_status = choice(ActionStatus, allow_none=True, metadata={
        "description": "The improvement action's status; null if it is not an action."})
    replies = fields.List(fields.Nested(ExportedReplySchema))


class ExportSchema(Schema):
    collaboration = fields.Dict(metadata={"description": "{id, title}"})
    exported_at = fields.String(metadata={"format": "date-time"})
    filters = fields.Dict(metadata={"description": "The filters applied."})
    reflections = fields.List(fields.Nested(ExportedReflectionSchema), metadata={
        "description": "Every reflection the caller may read here (withdrawn ones left out), "
                       "oldest first, replies nested."})


@blp.route("/export")
class Export(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, ExportSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """The reflections the caller may read here, filtered, with replies: streamed JSON."""
        collaboration = collaboration_or_404(collaboration_id)
        filters = FeedFilters(**args)
        rows = export.delivered_rows(policy.current_actor(), collaboration, filters)
        return Response(stream_with_context(export.json_document(collaboration, filters, rows)),
                        mimetype="application/json", headers={"Cache-Control": "no-store"})
