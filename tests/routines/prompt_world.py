"""A collaboration with a fortnightly Tuesday 09:00 routine for staff, and a controllable clock.

The routine is read in Europe/Copenhagen from Monday 1 March 2027: it prompts on Tuesday
2, 16 and 30 March (the clocks go forward on Sunday 28 March), 13 April, and so on.
Import the fixture with `from tests.routines.prompt_world import *  # noqa: F403`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import Role, User
from coprod.extensions import db
from coprod.mail.models import OutboxEmail
from coprod.routines.models import (
    Prompt,
    Routine,
    RoutineAudiencePartner,
    RoutineAudienceRole,
)
from coprod.routines.schedule import preset_rule
from coprod.spaces.models import Collaboration, Partner
from tests.factories import CollaborationFactory, PartnerFactory, member

__all__ = ["prompt_world"]

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ANCHOR = date(2027, 3, 1)
CLASSIFIED = dict(kind="works", perspective="citizens", component="routines",
                  learning_level="inter", mode="exploitation")


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A wall-clock time in Copenhagen, as the UTC instant the sweep is given."""
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN).astimezone(UTC)


@dataclass
class PromptWorld:
    collab: Collaboration
    job_centre: Partner
    cafe: Partner
    coordinator: User    # speaks for the job centre; not staff, so never prompted
    cafe_boss: User      # a coordinator speaking for the café
    jens: User           # job centre staff
    julie: User          # job centre staff
    carla: User          # café staff
    citizen: User
    routine: Routine

    @property
    def staff(self) -> list[User]:
        return [self.jens, self.julie, self.carla]


def make_routine(collab: Collaboration, *, roles=(Role.PARTNER_STAFF,), partners=(),
                 nudge_after_days: int | None = 3, questions=(), **fields) -> Routine:
    routine = Routine(
        collaboration_id=collab.id, name=fields.pop("name", "Fortnightly learning"),
        rule=preset_rule("fortnightly", "TU", time(9, 0)), anchor_on=ANCHOR,
        timezone="Europe/Copenhagen", questions=list(questions),
        nudge_after_days=nudge_after_days,
        audience_roles=[RoutineAudienceRole(role=r) for r in roles],
        audience_partners=[RoutineAudiencePartner(partner_id=p.id) for p in partners],
        **fields)
    db.session.add(routine)
    db.session.commit()
    return routine


def build_prompt_world() -> PromptWorld:
    collab = CollaborationFactory(title="Meaningful work", timezone="Europe/Copenhagen")
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    coordinator = member(collab, Role.COORDINATOR, job_centre, display_name="Cora").user
    cafe_boss = member(collab, Role.COORDINATOR, cafe, display_name="Boss of the café").user
    jens = member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens").user
    julie = member(collab, Role.PARTNER_STAFF, job_centre, display_name="Julie").user
    carla = member(collab, Role.PARTNER_STAFF, cafe, display_name="Carla").user
    citizen = member(collab, Role.CITIZEN, display_name="Cit Izen").user
    db.session.commit()
    return PromptWorld(collab, job_centre, cafe, coordinator, cafe_boss, jens, julie, carla,
                       citizen, make_routine(collab))


@pytest.fixture
def prompt_world(db) -> PromptWorld:
    return build_prompt_world()


def prompts_of(routine: Routine, user: User | None = None) -> list[Prompt]:
    stmt = select(Prompt).where(Prompt.routine_id == routine.id)
    if user is not None:
        stmt = stmt.where(Prompt.user_id == user.id)
    return list(db.session.scalars(stmt.order_by(Prompt.period_start, Prompt.user_id)))


def prompted(routine: Routine, period_start: datetime | None = None) -> set[int]:
    """The ids of the members prompted (in one period, if given)."""
    return {p.user_id for p in prompts_of(routine)
            if period_start is None or p.period_start == period_start}


def outbox_keys(prefix: str) -> list[str]:
    return sorted(db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key.like(f"{prefix}:%"))))


def outbox_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxEmail))
