"""The sweep: every minute, beat asks which routines are due and prompts their audience.

For each routine that is not paused, in a collaboration that is active:

1. if a period began less than schedule.CATCH_UP ago, every member of the audience who has
   not opted out and is not on leave gets one prompt, inserted under the unique key (routine,
   period, member) with ON CONFLICT DO NOTHING, and the rows actually inserted get one outbox
   email each, in the same transaction. A second sweep (or a second beat) finds the rows there
   and inserts nothing: each prompt, and so each email, exists once;
2. once the nudge day of the current period has come, members who have not answered get one
   nudge: the UPDATE that stamps nudged_at only takes rows still unstamped, so a nudge too goes
   out once.

Each routine commits on its own: one broken routine does not hold back the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from coprod.common import utcnow
from coprod.extensions import db
from coprod.reflections.models import Reflection
from coprod.routines import schedule
from coprod.routines.models import Prompt, PromptLeave, Routine, RoutineOptOut
from coprod.spaces.models import Collaboration, CollaborationStatus, Membership

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    routines: int = 0
    prompts: int = 0
    nudges: int = 0
    errors: list[str] = field(default_factory=list)


def run_due(now: datetime | None = None) -> SweepResult:
    """One sweep over every routine; safe to run any number of times, concurrently too."""
    now = now or utcnow()
    result = SweepResult()
    ids = db.session.scalars(
        select(Routine.id).join(Collaboration, Collaboration.id == Routine.collaboration_id)
        .where(Routine.paused_at.is_(None),
               Collaboration.status == CollaborationStatus.ACTIVE)
        .order_by(Routine.id)).all()
    db.session.rollback()
    for routine_id in ids:
        try:
            prompts, nudges = sweep_routine(db.session.get(Routine, routine_id), now)
            db.session.commit()
        except Exception as exc:  # one routine's failure must not stop the others
            db.session.rollback()
            log.exception("routine %s: sweep failed", routine_id)
            result.errors.append(f"routine {routine_id}: {type(exc).__name__}: {exc}")
            continue
        result.routines += 1
        result.prompts += prompts
        result.nudges += nudges
    return result


def sweep_routine(routine: Routine, now: datetime) -> tuple[int, int]:
    """Prompts created and nudges sent for one routine now (flushed, not committed)."""
    period = schedule.due_period(routine.rule, routine.anchor_on, routine.timezone, now)
    created = prompt_period(routine, period) if period is not None else []
    nudged = nudge_due(routine, now)
    return len(created), len(nudged)


def _local_day(routine: Routine, instant: datetime):
    return instant.astimezone(schedule.zone(routine.timezone)).date()


def audience(routine: Routine, period: schedule.Period) -> list[tuple[int, int | None]]:
    """(user, partner) of the members the routine prompts in this period."""
    local_day = _local_day(routine, period.start)
    stmt = select(Membership.user_id, Membership.partner_id).where(
        Membership.collaboration_id == routine.collaboration_id,
        ~exists().where(RoutineOptOut.routine_id == routine.id,
                        RoutineOptOut.user_id == Membership.user_id),
        ~exists().where(PromptLeave.user_id == Membership.user_id,
                        PromptLeave.collaboration_id == routine.collaboration_id,
                        PromptLeave.until >= local_day))
    if routine.roles:
        stmt = stmt.where(Membership.role.in_(routine.roles))
    if routine.partner_ids:
        stmt = stmt.where(Membership.partner_id.in_(routine.partner_ids))
    return [tuple(row) for row in db.session.execute(stmt.order_by(Membership.user_id))]


def _insert():
    """INSERT ... ON CONFLICT DO NOTHING of the session's database."""
    name = db.session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(Prompt)


def prompt_period(routine: Routine, period: schedule.Period) -> list[int]:
    """Create the period's missing prompts and queue one email for each row created."""
    members = audience(routine, period)
    if not members:
        return []
    created_at = utcnow()
    rows = [dict(routine_id=routine.id, user_id=user_id, partner_id=partner_id,
                 period_start=period.start, period_end=period.end, created_at=created_at)
            for user_id, partner_id in members]
    inserted = db.session.scalars(
        _insert().values(rows).on_conflict_do_nothing(
            index_elements=["routine_id", "period_start", "user_id"]).returning(Prompt.id)
    ).all()
    from coprod.routines.emails import queue_prompt_email

    for prompt_id in sorted(inserted):
        queue_prompt_email(db.session.get(Prompt, prompt_id))
    return sorted(inserted)


def answered_clause(prompt=Prompt):
    """SQL: the prompt's member posted a reflection in its collaboration during its period
    (from the prompt's link or not); a reflection linked to the prompt counts in any case."""
    return exists().where(
        Reflection.author_id == prompt.user_id,
        or_(Reflection.prompt_id == prompt.id,
            and_(Reflection.collaboration_id == select(Routine.collaboration_id).where(
                Routine.id == prompt.routine_id).correlate_except(Routine).scalar_subquery(),
                Reflection.created_at >= prompt.period_start,
                Reflection.created_at < prompt.period_end)))


def nudge_due(routine: Routine, now: datetime) -> list[int]:
    """Stamp and mail the nudges due now: unanswered prompts of the current period whose
    nudge day has come. The stamp is taken in one UPDATE, so each prompt is nudged once."""
    if routine.nudge_after_days is None:
        return []
    stamped = db.session.scalars(
        update(Prompt).where(
            Prompt.routine_id == routine.id, Prompt.nudged_at.is_(None),
            Prompt.period_end > now,
            Prompt.period_start <= now - timedelta(days=routine.nudge_after_days),
            ~answered_clause(),
            ~exists().where(RoutineOptOut.routine_id == routine.id,
                            RoutineOptOut.user_id == Prompt.user_id),
            # A member who went on leave after being prompted is not reminded during it.
            ~exists().where(PromptLeave.user_id == Prompt.user_id,
                            PromptLeave.collaboration_id == routine.collaboration_id,
                            PromptLeave.until >= _local_day(routine, now)))
        .values(nudged_at=now).returning(Prompt.id)
        .execution_options(synchronize_session=False)).all()
    from coprod.routines.emails import queue_nudge_email

    for prompt_id in sorted(stamped):
        queue_nudge_email(db.session.get(Prompt, prompt_id))
    return sorted(stamped)
