"""Writes to routines: coordinators define, pause and remove them; members take leave.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError naming the field at fault, so a
form shows them next to that field and the API names it. The cadence is stored as an RRULE
(coprod/routines/schedule.py): the form's presets are turned into one, a raw rule is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.inputs import database_ids, planned_day
from coprod.policy import Actor
from coprod.routines import schedule
from coprod.routines.emails import are_default_questions
from coprod.routines.models import (
    MAX_QUESTIONS,
    NAME_MAX,
    QUESTION_MAX,
    PromptLeave,
    Routine,
    RoutineAudiencePartner,
    RoutineAudienceRole,
    RoutineOptOut,
)
from coprod.spaces.models import Collaboration, Partner

CADENCES = ("weekly", "fortnightly", "monthly", "custom")
PRESETS = CADENCES[:3]
NUDGE_MAX_DAYS = 30


# -- validation -----------------------------------------------------------------------------

def clean_name(name: str | None) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise OperationError(_("Give the routine a name."), field="name")
    if len(text) > NAME_MAX:
        raise OperationError(_("Keep the name under %(n)d characters.", n=NAME_MAX),
                             field="name")
    return text


def clean_timezone(name: str | None) -> str:
    """An IANA time zone the prompts are scheduled in."""
    text = (name or "").strip()
    try:
        schedule.zone(text)
    except schedule.ScheduleError:
        text = ""
    if not text:
        raise OperationError(_("Use a time zone name such as Europe/Copenhagen."),
                             field="timezone")
    return text


def _clock(value) -> time:
    """A time of day, as a time or as typed ("09:00")."""
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value or "").strip())
    except ValueError:
        raise OperationError(_("Give the time of day as HH:MM, e.g. 09:00."),
                             field="time") from None


def cadence_rule(cadence: str | None, weekday: str | None, at, rule: str | None) -> str:
    """The RRULE of a preset (weekday and time) or of a raw rule (cadence "custom")."""
    if cadence not in CADENCES:
        raise OperationError(_("Choose how often the routine prompts."), field="cadence")
    try:
        if cadence == "custom":
            return schedule.clean_rule(rule or "")
        if weekday not in schedule.WEEKDAYS:
            raise OperationError(_("Choose a weekday."), field="weekday")
        return schedule.preset_rule(cadence, weekday, _clock(at))
    except schedule.ScheduleError as exc:
        raise OperationError(str(exc), field="rule") from None


def check_schedule(rule: str, anchor: date, timezone: str) -> None:
    """The rule, read from `anchor` in `timezone`, prompts at most once an hour and at least
    once within schedule.HORIZON (a bounded check, coprod/routines/schedule.py)."""
    try:
        schedule.check_rule(rule, anchor, timezone, utcnow())
    except schedule.TooDense:
        raise OperationError(_("This rule prompts more than once an hour; a routine prompts "
                               "at most once an hour."), field="rule") from None
    except schedule.NeverDue:
        raise OperationError(_("This rule never comes round within %(days)d days; give one "
                               "that prompts at least once a year.",
                               days=schedule.HORIZON.days), field="rule") from None
    except schedule.ScheduleError as exc:
        raise OperationError(str(exc), field="rule") from None


def clean_anchor(anchor_on, timezone: str) -> date:
    """The local day a rule is read from: a date from a few years ago to a year ahead."""
    if not isinstance(anchor_on, date) or isinstance(anchor_on, datetime):
        raise OperationError(_("Give the day the schedule starts from as a date."),
                             field="anchor_on")
    today = local_today(timezone)
    problem = schedule.anchor_problem(anchor_on, today)
    if problem == "past":
        raise OperationError(_("Start the schedule on %(day)s or later.",
                               day=(today - schedule.ANCHOR_PAST).isoformat()),
                             field="anchor_on")
    if problem == "future":
        raise OperationError(_("Start the schedule by %(day)s at the latest.",
                               day=(today + schedule.ANCHOR_FUTURE).isoformat()),
                             field="anchor_on")
    return anchor_on


def describe_rule(rule: str) -> tuple[str, str | None, time | None]:
    """(cadence, weekday, time) of a rule a preset makes, or ("custom", None, None): what the
    edit form starts from."""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    keys = set(parts) - {"INTERVAL"}
    if keys != {"FREQ", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND"} or parts["BYSECOND"] != "0":
        return "custom", None, None
    try:
        at = time(int(parts["BYHOUR"]), int(parts["BYMINUTE"]))
    except ValueError:
        return "custom", None, None
    day = parts["BYDAY"]
    for cadence in PRESETS:
        weekday = day.removeprefix("1") if cadence == "monthly" else day
        if weekday in schedule.WEEKDAYS and schedule.preset_rule(cadence, weekday, at) == rule:
            return cadence, weekday, at
    return "custom", None, None


def clean_questions(questions: Iterable[str] | None) -> list[str]:
    """1 to MAX_QUESTIONS questions; blank lines are dropped. The defaults are stored as an
    empty list (whatever language they were shown in), so routines that keep them follow
    DEFAULT_QUESTIONS in each reader's language."""
    if questions is None:
        return []
    if isinstance(questions, str):
        questions = [questions]
    cleaned = [" ".join(str(q or "").split()) for q in questions]
    cleaned = [q for q in cleaned if q]
    if not cleaned:
        raise OperationError(_("Ask at least one question."), field="questions")
    if len(cleaned) > MAX_QUESTIONS:
        raise OperationError(_("Ask at most %(n)d questions.", n=MAX_QUESTIONS),
                             field="questions")
    if any(len(q) > QUESTION_MAX for q in cleaned):
        raise OperationError(_("Keep each question under %(n)d characters.", n=QUESTION_MAX),
                             field="questions")
    return [] if are_default_questions(cleaned) else cleaned


def clean_nudge(days) -> int | None:
    if days in (None, ""):
        return None
    try:
        value = int(days)
    except (TypeError, ValueError):
        value = 0
    if isinstance(days, bool) or not 1 <= value <= NUDGE_MAX_DAYS:
        raise OperationError(_("Nudge after 1 to %(n)d days, or not at all.", n=NUDGE_MAX_DAYS),
                             field="nudge_after_days")
    return value


def clean_roles(roles: Iterable | None) -> list[Role]:
    try:
        return sorted({Role(str(r)) for r in roles or ()}, key=list(Role).index)
    except ValueError:
        raise OperationError(_("Choose roles of the collaboration."), field="roles") from None


def clean_partners(collaboration_id: int, values: Iterable | None) -> list[int]:
    """Ids of partners of this collaboration, every one of them, or a refusal."""
    message = _("Choose partners of this collaboration.")
    try:
        ids = database_ids(values)
    except (TypeError, ValueError):
        raise OperationError(message, field="partner_ids") from None
    if not ids:
        return []
    found = set(db.session.scalars(select(Partner.id).where(
        Partner.collaboration_id == collaboration_id, Partner.id.in_(ids))))
    if found != ids:
        raise OperationError(message, field="partner_ids")
    return sorted(ids)


def local_today(timezone: str) -> date:
    return datetime.now(schedule.zone(timezone)).date()


# -- routines -------------------------------------------------------------------------------

def _apply(routine: Routine, *, name, cadence, weekday, time, rule, timezone, roles,
           partner_ids, questions, nudge_after_days, anchor_on=None) -> None:
    """Check every field, then set them all: a refusal leaves the routine as it was. The
    anchor stays unless a new one is given (today for a new routine)."""
    values = {"name": clean_name(name),
              "rule": cadence_rule(cadence, weekday, time, rule),
              "timezone": clean_timezone(timezone),
              "questions": clean_questions(questions),
              "nudge_after_days": clean_nudge(nudge_after_days)}
    if anchor_on is not None:
        values["anchor_on"] = clean_anchor(anchor_on, values["timezone"])
    elif routine.anchor_on is None:
        values["anchor_on"] = local_today(values["timezone"])
    check_schedule(values["rule"], values.get("anchor_on", routine.anchor_on),
                   values["timezone"])
    role_list = clean_roles(roles)
    partner_list = clean_partners(routine.collaboration_id, partner_ids)
    for key, value in values.items():
        setattr(routine, key, value)
    kept_roles = {a.role: a for a in routine.audience_roles}
    routine.audience_roles = [kept_roles.get(r) or RoutineAudienceRole(role=r)
                              for r in role_list]
    kept_partners = {a.partner_id: a for a in routine.audience_partners}
    routine.audience_partners = [kept_partners.get(p) or RoutineAudiencePartner(partner_id=p)
                                 for p in partner_list]


def create_routine(actor: Actor, collaboration: Collaboration, *, name: str,
                   cadence: str = "weekly", weekday: str | None = None, time=None,
                   rule: str | None = None, anchor_on: date | None = None,
                   timezone: str | None = None, roles: Iterable = (),
                   partner_ids: Iterable = (), questions: Iterable[str] | None = None,
                   nudge_after_days: int | None = None) -> Routine:
    """A coordinator sets up a routine: who is prompted (roles and/or partners; none: every
    member), when (read from `anchor_on`, today by default, in the routine's time zone), with
    which questions, and whether those who have not answered get a nudge."""
    policy.require(actor, "create_routine", collaboration)
    routine = Routine(collaboration_id=collaboration.id, created_by_id=actor.user_id)
    _apply(routine, name=name, cadence=cadence, weekday=weekday, time=time, rule=rule,
           timezone=timezone or collaboration.timezone or "UTC", roles=roles,
           partner_ids=partner_ids, questions=questions, nudge_after_days=nudge_after_days,
           anchor_on=anchor_on)
    db.session.add(routine)
    db.session.flush()
    return routine


def update_routine(actor: Actor, routine: Routine, *, name: str, cadence: str,
                   weekday: str | None = None, time=None, rule: str | None = None,
                   anchor_on: date | None = None, timezone: str | None = None,
                   roles: Iterable = (), partner_ids: Iterable = (),
                   questions: Iterable[str] | None = None,
                   nudge_after_days: int | None = None) -> Routine:
    """Change everything about a routine; the anchor stays unless a new one is given, so a
    fortnightly routine keeps its weeks. Prompts already sent stay."""
    policy.require(actor, "update", routine)
    _apply(routine, name=name, cadence=cadence, weekday=weekday, time=time, rule=rule,
           timezone=timezone or routine.timezone, roles=roles, partner_ids=partner_ids,
           questions=questions, nudge_after_days=nudge_after_days, anchor_on=anchor_on)
    db.session.flush()
    return routine


def pause_routine(actor: Actor, routine: Routine) -> Routine:
    """No prompts and no nudges until resumed; pausing twice keeps the first time."""
    policy.require(actor, "update", routine)
    if routine.paused_at is None:
        routine.paused_at = utcnow()
    db.session.flush()
    return routine


def resume_routine(actor: Actor, routine: Routine) -> Routine:
    """Prompt again from the next period (or the current one, if it began within a day)."""
    policy.require(actor, "update", routine)
    routine.paused_at = None
    db.session.flush()
    return routine


def delete_routine(actor: Actor, routine: Routine) -> None:
    """Remove a routine with its prompts; reflections posted from them stay, unlinked."""
    policy.require(actor, "delete", routine)
    db.session.delete(routine)
    db.session.flush()


# -- a member's own pause and opt-outs -------------------------------------------------------

def take_leave(actor: Actor, collaboration: Collaboration, until: date) -> PromptLeave:
    """A member pauses their own prompts in a collaboration until (and including) a date;
    taking leave again moves the date."""
    policy.require(actor, "take_leave", collaboration)
    if not isinstance(until, date) or isinstance(until, datetime):
        raise OperationError(_("Give the last day of your leave."), field="until")
    today = local_today(collaboration.timezone or "UTC")
    if until < today:
        raise OperationError(_("The leave must end today or later."), field="until")
    planned_day(until, today, "until")
    leave = db.session.scalar(select(PromptLeave).where(
        PromptLeave.user_id == actor.user_id, PromptLeave.collaboration_id == collaboration.id))
    if leave is None:
        leave = PromptLeave(user_id=actor.user_id, collaboration_id=collaboration.id)
        db.session.add(leave)
    leave.until = until
    db.session.flush()
    return leave


def end_leave(actor: Actor, collaboration: Collaboration) -> bool:
    """Back from leave: prompts come again. False if there was no leave to end."""
    policy.require(actor, "take_leave", collaboration)
    ended = db.session.execute(delete(PromptLeave).where(
        PromptLeave.user_id == actor.user_id, PromptLeave.collaboration_id == collaboration.id))
    db.session.flush()
    return bool(ended.rowcount)


def _insert_opt_out():
    name = db.session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(RoutineOptOut)


def unsubscribe(routine_id: int, user_id: int) -> bool:
    """No more emails of this routine for this member (from a signed link: the link is the
    permission). Unsubscribing twice is the same as once; False if the routine is gone."""
    if db.session.get(Routine, routine_id) is None:
        return False
    db.session.execute(_insert_opt_out().values(routine_id=routine_id, user_id=user_id)
                       .on_conflict_do_nothing(index_elements=["routine_id", "user_id"]))
    db.session.flush()
    return True


def resubscribe(routine_id: int, user_id: int) -> None:
    """The member gets this routine's prompts again."""
    db.session.execute(delete(RoutineOptOut).where(RoutineOptOut.routine_id == routine_id,
                                                   RoutineOptOut.user_id == user_id))
    db.session.flush()
