"""Reads of routines through the policy: the list, the next prompt, a member's leave and
opt-outs, and the response rates coordinators follow (counted in SQL, per period and per
partner organization, never row by row in Python)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.common import utcnow
from coprod.extensions import db
from coprod.i18n import lazy_gettext as _l
from coprod.policy import Actor
from coprod.routines import schedule
from coprod.routines.models import Prompt, PromptLeave, Routine, RoutineOptOut
from coprod.routines.operations import describe_rule, local_today
from coprod.routines.sweep import answered_clause
from coprod.spaces.models import Collaboration, Organization, Partner

log = logging.getLogger(__name__)

# How many periods the response rates look back over.
RATE_PERIODS = 12

WEEKDAY_NAMES = {"MO": _l("Monday"), "TU": _l("Tuesday"), "WE": _l("Wednesday"),
                 "TH": _l("Thursday"), "FR": _l("Friday"), "SA": _l("Saturday"),
                 "SU": _l("Sunday")}
CADENCE_WORDS = {
    "weekly": _l("Every %(weekday)s at %(time)s"),
    "fortnightly": _l("Every other %(weekday)s at %(time)s"),
    "monthly": _l("The first %(weekday)s of each month at %(time)s"),
}


def routines_query(actor: Actor, collaboration: Collaboration):
    """select(Routine): the collaboration's routines, by name, with their audience at hand."""
    return (policy.scoped(actor, Routine)
            .where(Routine.collaboration_id == collaboration.id)
            .options(selectinload(Routine.audience_roles),
                     selectinload(Routine.audience_partners))
            .order_by(Routine.name, Routine.id))


def routines_of(actor: Actor, collaboration: Collaboration) -> list[Routine]:
    """The collaboration's routines, by name, with their audience at hand."""
    return list(db.session.scalars(routines_query(actor, collaboration)))


def next_prompt(routine: Routine, now: datetime | None = None) -> datetime | None:
    """When the routine prompts next (UTC); None while paused or when the rule has ended."""
    if routine.is_paused:
        return None
    try:
        return schedule.next_occurrence(routine.rule, routine.anchor_on, routine.timezone,
                                        now or utcnow())
    except schedule.ScheduleError:  # a rule stored before it was checked: edit it
        log.warning("routine %s: cannot schedule %r", routine.id, routine.rule)
        return None


def cadence_in_words(routine: Routine) -> str:
    """"Every other Tuesday at 09:00", or the raw rule for a custom cadence."""
    cadence, weekday, at = describe_rule(routine.rule)
    if cadence == "custom":
        return str(_l("Custom rule: %(rule)s", rule=routine.rule))
    return str(CADENCE_WORDS[cadence]) % {"weekday": WEEKDAY_NAMES[weekday],
                                          "time": at.strftime("%H:%M")}


def leave_of(actor: Actor, collaboration: Collaboration) -> PromptLeave | None:
    """The actor's own leave in this collaboration, if it has not ended yet."""
    if actor.user_id is None:
        return None
    return db.session.scalar(select(PromptLeave).where(
        PromptLeave.user_id == actor.user_id, PromptLeave.collaboration_id == collaboration.id,
        PromptLeave.until >= local_today(collaboration.timezone or "UTC")))


def opted_out(actor: Actor, collaboration: Collaboration) -> set[int]:
    """Routines of this collaboration whose emails the actor unsubscribed from."""
    if actor.user_id is None:
        return set()
    return set(db.session.scalars(
        select(RoutineOptOut.routine_id).join(Routine, Routine.id == RoutineOptOut.routine_id)
        .where(RoutineOptOut.user_id == actor.user_id,
               Routine.collaboration_id == collaboration.id)))


# -- response rates -------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """How many were prompted and how many answered, in one period (for one partner)."""

    prompts: int
    answered: int

    @property
    def rate(self) -> float:
        return self.answered / self.prompts if self.prompts else 0.0

    @property
    def percent(self) -> int:
        return round(100 * self.rate)


@dataclass(frozen=True)
class PartnerRate(Rate):
    partner_id: int | None = None  # None: members who speak for no partner (coordinators)
    partner_name: str | None = None


@dataclass(frozen=True)
class PeriodRate(Rate):
    start: datetime | None = None
    end: datetime | None = None
    partners: list[PartnerRate] = field(default_factory=list)

    def local_start(self, tz_name: str) -> date:
        return self.start.astimezone(schedule.zone(tz_name)).date()


def _counts():
    """COUNT of prompts and SUM of those answered, as SQL columns."""
    return (func.count(Prompt.id).label("prompts"),
            func.coalesce(func.sum(case((answered_clause(), 1), else_=0)), 0).label("answered"))


def response_rates(actor: Actor, routine: Routine) -> list[PeriodRate]:
    """The last RATE_PERIODS periods of a routine, newest first: prompts, answers and rate,
    and the same per partner organization of the prompted members. Two grouped queries."""
    policy.require(actor, "read", routine)
    policy.require(actor, "read_response_rates", db.session.get(
        Collaboration, routine.collaboration_id))
    periods = db.session.execute(
        select(Prompt.period_start, func.max(Prompt.period_end), *_counts())
        .where(Prompt.routine_id == routine.id)
        .group_by(Prompt.period_start)
        .order_by(Prompt.period_start.desc())
        .limit(RATE_PERIODS)).all()
    if not periods:
        return []
    by_partner = db.session.execute(
        select(Prompt.period_start, Prompt.partner_id, Organization.name, *_counts())
        .outerjoin(Partner, Partner.id == Prompt.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .where(Prompt.routine_id == routine.id,
               Prompt.period_start >= periods[-1][0])
        .group_by(Prompt.period_start, Prompt.partner_id, Organization.name)
        .order_by(Prompt.period_start.desc(), Organization.name.nulls_last())).all()
    partners: dict[datetime, list[PartnerRate]] = {}
    for start, partner_id, name, prompts, answered in by_partner:
        partners.setdefault(start, []).append(
            PartnerRate(prompts, answered, partner_id=partner_id, partner_name=name))
    return [PeriodRate(prompts, answered, start=start, end=end,
                       partners=partners.get(start, []))
            for start, end, prompts, answered in periods]
