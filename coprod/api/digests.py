"""/api/v1/collaborations/{id}/digests: learning digests as the caller's class may read them,
the digest settings (/digest-settings) and a coordinator's review and send.

What a digest answers comes from coprod/digests/reading.py, the same as its page: figures
built only from what the caller's permission class may read, theme labels made from texts the
caller may read, and the ids of the reflections behind each theme and action.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import Timestamp, choice
from coprod.digests import operations, reading
from coprod.digests.models import Digest, DigestCadence, DigestStatus

blp = ApiBlueprint("digests_api", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>",
                   description="Learning digests: what the collaboration learned in a period, "
                               "filtered to what the caller may read; their settings and "
                               "review.")


# -- schemas --------------------------------------------------------------------------------

class FiguresSchema(Schema):
    reflections = fields.Integer(metadata={"description": "Reflections the caller's class "
                                                          "may read in the period."})
    partners = fields.Integer(metadata={"description": "Partner organizations taking part."})
    themes = fields.Integer()
    actions_done = fields.Integer(metadata={"description": "Improvement actions done."})


class DigestSummarySchema(Schema):
    id = fields.Integer()
    period_start = Timestamp(metadata={"description": "Local midnight, in UTC."})
    period_end = Timestamp()
    first_day = fields.Date(metadata={"description": "The period's first local day."})
    last_day = fields.Date(metadata={"description": "The period's last local day."})
    status = choice(DigestStatus)
    built_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    figures = fields.Nested(FiguresSchema)


class CountSchema(Schema):
    partner_id = fields.Integer(allow_none=True)
    partner_name = fields.String(allow_none=True)
    n = fields.Integer()


class RoleCountSchema(Schema):
    role = fields.String(allow_none=True, metadata={"description": "null: no longer a member."})
    n = fields.Integer()


class QuietSchema(Schema):
    partner_id = fields.Integer()
    partner_name = fields.String()
    earlier = fields.List(fields.Integer(), metadata={
        "description": "Reflections per earlier period, oldest first; none in this one."})


class ResponseRateSchema(Schema):
    routine_id = fields.Integer()
    routine_name = fields.String()
    partner_id = fields.Integer(allow_none=True)
    prompted = fields.Integer()
    answered = fields.Integer()
    rate = fields.Float(allow_none=True)
    earlier_rate = fields.Float(allow_none=True)


class ParticipationSchema(Schema):
    by_partner = fields.List(fields.Nested(CountSchema))
    by_role = fields.List(fields.Nested(RoleCountSchema))
    gone_quiet = fields.List(fields.Nested(QuietSchema))
    response_rates = fields.List(fields.Nested(ResponseRateSchema), allow_none=True, metadata={
        "description": "Coordinators only (null for others): prompts per routine and partner."})


class ComponentCountSchema(Schema):
    component = fields.String()
    works = fields.Integer()
    improve = fields.Integer()


class PerspectiveCountSchema(Schema):
    perspective = fields.String()
    n = fields.Integer()
    trend = fields.List(fields.Integer(), metadata={"description": "Per period, oldest first."})


class PeriodCountSchema(Schema):
    period_start = Timestamp()
    period_end = Timestamp()
    works = fields.Integer()
    improve = fields.Integer()
    total = fields.Integer()


class CountsSchema(Schema):
    by_kind_component = fields.List(fields.Nested(ComponentCountSchema))
    by_perspective = fields.List(fields.Nested(PerspectiveCountSchema))
    trend = fields.List(fields.Nested(PeriodCountSchema), metadata={
        "description": "This period and up to five before it, oldest first."})


class ThemePartnerSchema(Schema):
    partner_id = fields.Integer(allow_none=True)
    partner_name = fields.String(allow_none=True)
    works = fields.Integer()
    improve = fields.Integer()


class ThemeExampleSchema(Schema):
    reflection_id = fields.Integer()
    sentence = fields.String(metadata={"description": "A sentence of the theme's most typical "
                                                      "reflection the caller may read."})


class ThemeSchema(Schema):
    label = fields.String(metadata={"description": "Its most telling words, from reflections "
                                                   "the caller may read."})
    size = fields.Integer(metadata={"description": "Its reflections in this period."})
    works = fields.Integer()
    improve = fields.Integer()
    trend = fields.String(metadata={"enum": ["new", "recurring", "growing", "fading"]})
    per_period = fields.List(fields.Integer())
    reflection_ids = fields.List(fields.Integer())
    partners = fields.List(fields.Nested(ThemePartnerSchema))
    example = fields.Nested(ThemeExampleSchema, allow_none=True)


class DigestActionSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    reflection_id = fields.Integer()
    owner_partner_id = fields.Integer(allow_none=True)


class ActionsSchema(Schema):
    opened = fields.List(fields.Nested(DigestActionSchema))
    done = fields.List(fields.Nested(DigestActionSchema), metadata={
        "description": "\"You said, we did\": done in this period."})
    overdue = fields.List(fields.Nested(DigestActionSchema))


class EvidenceSchema(Schema):
    text = fields.String()
    figure = fields.Raw(allow_none=True)
    link = fields.String(allow_none=True, attribute="href")


class BarrierSchema(Schema):
    kind = fields.String()
    title = fields.String()
    evidence = fields.List(fields.Nested(EvidenceSchema))


class DigestSchema(DigestSummarySchema):
    note = fields.String(metadata={"description": "The coordinator's note (Markdown)."})
    participation = fields.Nested(ParticipationSchema)
    counts = fields.Nested(CountsSchema)
    themes = fields.List(fields.Nested(ThemeSchema))
    ungrouped = fields.Integer(metadata={"description": "Reflections of the period the caller "
                                                        "may read that fit no theme."})
    actions = fields.Nested(ActionsSchema)
    barriers = fields.List(fields.Nested(BarrierSchema), allow_none=True, metadata={
        "description": "Barrier signals with their evidence; null where not computed."})


DigestPageSchema = page_schema(DigestSummarySchema)


class DigestSettingsSchema(Schema):
    collaboration_id = fields.Integer()
    cadence = choice(DigestCadence)
    anchor_on = fields.Date(metadata={"description": "The first local day of the periods."})
    send_automatically = fields.Boolean(metadata={
        "description": "false: a digest waits for a coordinator's review before it is sent."})


class DigestSettingsUpdateSchema(Schema):
    cadence = fields.String(validate=validate.OneOf([c.value for c in DigestCadence]))
    anchor_on = fields.Date()
    send_automatically = fields.Boolean()


class DigestSendSchema(Schema):
    note = fields.String(validate=validate.Length(max=operations.NOTE_MAX), metadata={
        "description": "The coordinator's note (Markdown), kept with the digest."})


# -- serialising ----------------------------------------------------------------------------

def _summary(actor: policy.Actor, digest: Digest, collaboration) -> dict:
    days = reading.local_days(collaboration, digest.period_start, digest.period_end)
    return {"id": digest.id, "period_start": digest.period_start,
            "period_end": digest.period_end, "first_day": days.first, "last_day": days.last,
            "status": digest.status, "built_at": digest.built_at, "sent_at": digest.sent_at,
            "figures": reading.headline(actor, digest).as_dict()}


def _detail(actor: policy.Actor, digest: Digest, collaboration) -> dict:
    read = reading.read(actor, digest, collaboration)
    named = [{**row, "partner_name": row["name"]} for row in read.by_partner]
    return {
        **_summary(actor, digest, collaboration), "note": digest.note or "",
        "participation": {
            "by_partner": named, "by_role": read.by_role,
            "gone_quiet": [{**q, "partner_name": q["name"]} for q in read.quiet],
            "response_rates": None if read.response_rates is None else [
                {**r, "routine_name": r["routine"]} for r in read.response_rates]},
        "counts": {
            "by_kind_component": read.kind_component, "by_perspective": read.perspectives,
            "trend": [{"period_start": t["period"].start, "period_end": t["period"].end,
                       "works": t["works"], "improve": t["improve"], "total": t["total"]}
                      for t in read.trend]},
        "themes": [{**t, "partners": [{**p, "partner_name": p["name"]} for p in t["partners"]]}
                   for t in read.themes],
        "ungrouped": read.view.ungrouped,
        "actions": read.actions,
        "barriers": None if read.barriers is None else [
            {**b, "evidence": [reading.evidence_item(e) for e in b.get("evidence", [])]}
            for b in read.barriers],
    }


def _digest(collaboration_id: int, digest_id: int) -> Digest:
    return object_in(Digest, collaboration_id, digest_id)


# -- routes ---------------------------------------------------------------------------------

@blp.route("/digests")
class Digests(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, DigestPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """Past digests, newest first, with the headline figures of the caller's class."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id, "read_digests")
        stmt = (policy.scoped(actor, Digest).where(Digest.collaboration_id == collaboration.id)
                .order_by(Digest.period_start.desc(), Digest.id.desc()))
        page = paginate(stmt, args)
        page["items"] = [_summary(actor, d, collaboration) for d in page["items"]]
        return page


@blp.route("/digests/<int:digest_id>")
class DigestItem(MethodView):
    @blp.response(200, DigestSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, digest_id: int):
        """One digest as the caller's class may read it: participation, counts and trends,
        themes with the reflections behind them, actions and barrier signals."""
        collaboration = collaboration_or_404(collaboration_id, "read_digests")
        return _detail(policy.current_actor(), _digest(collaboration_id, digest_id),
                       collaboration)


@blp.route("/digests/<int:digest_id>/send")
class DigestSend(MethodView):
    @blp.arguments(DigestSendSchema)
    @blp.response(200, DigestSchema)
    @blp.fails_with(403, 404, 409, 422)
    def post(self, data, collaboration_id: int, digest_id: int):
        """Coordinators: review a digest that waits (keeping the note given) and send it."""
        collaboration = collaboration_or_404(collaboration_id)
        digest = _digest(collaboration_id, digest_id)
        actor = policy.current_actor()
        operations.send_digest(actor, digest, data.get("note"))
        return _detail(actor, digest, collaboration)


@blp.route("/digest-settings")
class DigestSettingsItem(MethodView):
    @blp.arguments(DigestSettingsUpdateSchema)
    @blp.response(200, DigestSettingsSchema)
    @blp.fails_with(403, 404, 422)
    def patch(self, data, collaboration_id: int):
        """Coordinators: the cadence, the first day of the periods and how digests go out
        (fields left out stay)."""
        collaboration = collaboration_or_404(collaboration_id)
        settings = operations.update_settings(policy.current_actor(), collaboration, **data)
        return settings
