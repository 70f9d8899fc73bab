"""/api/v1/collaborations/{id}/routines: knowledge-sharing routines, their response rates, and
a member's own leave from prompts (/collaborations/{id}/leave).

Members read the routines; coordinators define, pause, resume and remove them and read how
many answered per period and per partner organization. Any member pauses their own prompts
until a date.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from coprod import policy
from coprod.accounts.models import Role
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import Timestamp, choice, text
from coprod.routines import operations, queries, schedule
from coprod.routines.emails import default_questions
from coprod.routines.models import MAX_QUESTIONS, NAME_MAX, QUESTION_MAX, Routine

blp = ApiBlueprint("routines_api", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>",
                   description="Knowledge-sharing routines: who is prompted to reflect, when, "
                               "with which questions; response rates; a member's leave.")

TIME_OF_DAY = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use HH:MM, e.g. 09:00.")


# -- schemas --------------------------------------------------------------------------------

def _described(routine: Routine):
    return operations.describe_rule(routine.rule)


class RoutineSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    cadence = fields.Function(lambda r: _described(r)[0], metadata={
        "type": "string", "enum": list(operations.CADENCES),
        "description": "weekly, fortnightly or monthly (the first such weekday of the month) "
                       "when the rule is one of these presets; custom otherwise."})
    weekday = fields.Function(lambda r: _described(r)[1], metadata={
        "type": "string", "nullable": True, "description": "MO..SU of a preset; null if custom."})
    time = fields.Function(
        lambda r: _described(r)[2].strftime("%H:%M") if _described(r)[2] else None,
        metadata={"type": "string", "nullable": True,
                  "description": "Local time of day of a preset (HH:MM); null if custom."})
    rule = fields.String(metadata={"description": "The iCalendar RRULE (RFC 5545)."})
    anchor_on = fields.Date(metadata={"description": "The local date the rule is read from."})
    timezone = fields.String()
    roles = fields.Function(lambda r: [role.value for role in sorted(
        r.roles, key=list(Role).index)], metadata={
        "type": "array", "items": {"type": "string"},
        "description": "Roles prompted; empty: every role."})
    partner_ids = fields.Function(lambda r: sorted(r.partner_ids), metadata={
        "type": "array", "items": {"type": "integer"},
        "description": "Partner organizations whose members are prompted; empty: all."})
    questions = fields.Function(lambda r: list(r.questions or default_questions()), metadata={
        "type": "array", "items": {"type": "string"}})
    nudge_after_days = fields.Integer(allow_none=True, metadata={
        "description": "One reminder this many days into a period to those who have not "
                       "answered; null: none."})
    paused = fields.Boolean(attribute="is_paused")
    paused_at = Timestamp(allow_none=True)
    next_prompt_at = fields.Function(
        lambda r: (lambda at: at.isoformat() if at else None)(queries.next_prompt(r)),
        metadata={"type": "string", "format": "date-time", "nullable": True,
                  "description": "When the routine prompts next (UTC); null while paused."})
    created_at = Timestamp()


RoutinePageSchema = page_schema(RoutineSchema)


class RoutineUpdateSchema(Schema):
    name = text(NAME_MAX)
    cadence = fields.String(validate=validate.OneOf(operations.CADENCES), metadata={
        "description": "A preset (with weekday and time) or custom (with rule)."})
    weekday = fields.String(validate=validate.OneOf(schedule.WEEKDAYS))
    time = fields.String(validate=TIME_OF_DAY, metadata={"description": "Local HH:MM."})
    rule = fields.String(validate=validate.Length(max=500), metadata={
        "description": "A raw RRULE, e.g. FREQ=WEEKLY;BYDAY=TU;BYHOUR=9 (cadence custom)."})
    anchor_on = fields.Date(metadata={
        "description": "The local date the rule is read from (default: today)."})
    timezone = fields.String(validate=validate.Length(max=64), metadata={
        "description": "IANA name; default: the collaboration's."})
    roles = fields.List(choice(Role))
    partner_ids = fields.List(fields.Integer())
    questions = fields.List(fields.String(validate=validate.Length(max=QUESTION_MAX)),
                            validate=validate.Length(min=1, max=MAX_QUESTIONS), metadata={
                                "description": "Default: the three reflection questions."})
    nudge_after_days = fields.Integer(allow_none=True, validate=validate.Range(
        min=1, max=operations.NUDGE_MAX_DAYS))


class RoutineCreateSchema(RoutineUpdateSchema):
    name = text(NAME_MAX, required=True)
    cadence = fields.String(required=True, validate=validate.OneOf(operations.CADENCES))


class PartnerRateSchema(Schema):
    partner_id = fields.Integer(allow_none=True, metadata={
        "description": "null: members who speak for no partner organization."})
    partner_name = fields.String(allow_none=True)
    prompts = fields.Integer()
    answered = fields.Integer()
    rate = fields.Float(metadata={"description": "answered / prompts, 0 to 1."})


class PeriodRateSchema(Schema):
    period_start = Timestamp(attribute="start")
    period_end = Timestamp(attribute="end")
    prompts = fields.Integer()
    answered = fields.Integer()
    rate = fields.Float()
    partners = fields.List(fields.Nested(PartnerRateSchema))


class ResponseRatesSchema(Schema):
    routine_id = fields.Integer()
    periods = fields.List(fields.Nested(PeriodRateSchema), metadata={
        "description": "The last 12 periods with prompts, newest first."})


class LeaveSchema(Schema):
    collaboration_id = fields.Integer()
    until = fields.Date(metadata={"description": "The last local day without prompts."})


class LeaveTakeSchema(Schema):
    until = fields.Date(required=True)


# -- routes ---------------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _routine(collaboration_id: int, routine_id: int) -> Routine:
    return object_in(Routine, collaboration_id, routine_id)


def _current(routine: Routine) -> dict:
    """What update_routine needs to keep a field the PATCH leaves out."""
    cadence, weekday, at = operations.describe_rule(routine.rule)
    return {"name": routine.name, "cadence": cadence, "weekday": weekday, "time": at,
            "rule": routine.rule, "timezone": routine.timezone,
            "roles": [r.value for r in routine.roles], "partner_ids": routine.partner_ids,
            "questions": list(routine.questions or default_questions()),
            "nudge_after_days": routine.nudge_after_days}


@blp.route("/routines")
class Routines(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RoutinePageSchema)
    @blp.fails_with(404, 422)
    def get(self, args, collaboration_id: int):
        """The collaboration's routines, by name, a page at a time."""
        return paginate(queries.routines_query(
            _actor(), collaboration_or_404(collaboration_id)), args)

    @blp.arguments(RoutineCreateSchema)
    @blp.response(201, RoutineSchema)
    @blp.fails_with(403, 404, 422)
    def post(self, data, collaboration_id: int):
        """Set up a routine: a preset cadence (weekday and time) or a raw RRULE."""
        routine = operations.create_routine(
            _actor(), collaboration_or_404(collaboration_id), **data)
        return routine


@blp.route("/routines/<int:routine_id>")
class RoutineItem(MethodView):
    @blp.response(200, RoutineSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, routine_id: int):
        """One routine."""
        return _routine(collaboration_id, routine_id)

    @blp.arguments(RoutineUpdateSchema)
    @blp.response(200, RoutineSchema)
    @blp.fails_with(403, 404, 422)
    def patch(self, data, collaboration_id: int, routine_id: int):
        """Change a routine (fields left out stay); a rule alone makes the cadence custom."""
        routine = _routine(collaboration_id, routine_id)
        if "rule" in data and "cadence" not in data:
            data["cadence"] = "custom"
        operations.update_routine(_actor(), routine, **{**_current(routine), **data})
        return routine

    @blp.response(204)
    @blp.fails_with(403, 404)
    def delete(self, collaboration_id: int, routine_id: int):
        """Remove a routine and its prompts; reflections posted from them stay."""
        operations.delete_routine(_actor(), _routine(collaboration_id, routine_id))


@blp.route("/routines/<int:routine_id>/pause")
class RoutinePause(MethodView):
    @blp.response(200, RoutineSchema)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, routine_id: int):
        """No prompts or nudges until resumed."""
        routine = operations.pause_routine(_actor(), _routine(collaboration_id, routine_id))
        return routine


@blp.route("/routines/<int:routine_id>/resume")
class RoutineResume(MethodView):
    @blp.response(200, RoutineSchema)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, routine_id: int):
        """Prompt again on the routine's cadence."""
        routine = operations.resume_routine(_actor(), _routine(collaboration_id, routine_id))
        return routine


@blp.route("/routines/<int:routine_id>/response-rates")
class RoutineResponseRates(MethodView):
    @blp.response(200, ResponseRatesSchema)
    @blp.fails_with(403, 404)
    def get(self, collaboration_id: int, routine_id: int):
        """Coordinators: prompts, answers and rate per period, and per partner organization."""
        routine = _routine(collaboration_id, routine_id)
        return {"routine_id": routine.id,
                "periods": queries.response_rates(_actor(), routine)}


@blp.route("/leave")
class Leave(MethodView):
    @blp.arguments(LeaveTakeSchema)
    @blp.response(200, LeaveSchema)
    @blp.fails_with(403, 404, 422)
    def put(self, data, collaboration_id: int):
        """Pause my own prompts in this collaboration until (and including) a date."""
        leave = operations.take_leave(_actor(), collaboration_or_404(collaboration_id),
                                      data["until"])
        return leave

    @blp.response(204)
    @blp.fails_with(403, 404)
    def delete(self, collaboration_id: int):
        """End my leave: prompts come again."""
        operations.end_leave(_actor(), collaboration_or_404(collaboration_id))
