"""The sweep with a controlled clock: a fortnightly Tuesday 09:00 routine in Copenhagen prompts
its staff once per period at 09:00 local time (daylight saving included), never while paused,
on leave or opted out, and nudges once those who have not answered."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from coprod import policy
from coprod.extensions import db
from coprod.reflections import operations
from coprod.routines import sweep
from coprod.routines.models import Prompt, PromptLeave, RoutineOptOut
from coprod.spaces.models import Membership
from tests.routines.prompt_world import *  # noqa: F403  (the prompt_world fixture)
from tests.routines.prompt_world import (
    CLASSIFIED,
    local,
    make_routine,
    outbox_count,
    outbox_keys,
    prompted,
    prompts_of,
)

FIRST = local(2027, 3, 2)       # Tuesday 2 March 2027, 09:00 CET (08:00 UTC)
SECOND = local(2027, 3, 16)     # two weeks later
THIRD = local(2027, 3, 30)      # after the clocks went forward on 28 March: 09:00 CEST
NUDGE_DAY = local(2027, 3, 5)   # three days into the first period


def _ids(*users) -> set[int]:
    return {u.id for u in users}


def _reflect(world, user, at: datetime, **fields) -> None:
    """A reflection posted at this instant, from the prompt or not."""
    with freeze_time(at):
        operations.post_reflection(policy.actor_for(user), world.collab,
                                   body="The walk-in hour works", **CLASSIFIED, **fields)
        db.session.commit()


def _nudged(world) -> set[int]:
    db.session.expire_all()
    return {p.user_id for p in prompts_of(world.routine) if p.nudged_at is not None}


# -- prompts ---------------------------------------------------------------------------------

def test_each_staff_member_is_prompted_once_at_nine_local_time(prompt_world):
    world = prompt_world
    assert sweep.run_due(FIRST - timedelta(minutes=1)).prompts == 0
    assert prompts_of(world.routine) == [] and outbox_count() == 0

    result = sweep.run_due(FIRST)
    assert result.prompts == 3 and result.errors == []
    assert prompted(world.routine) == _ids(*world.staff)  # not coordinators, not the citizen
    (start,) = {p.period_start for p in prompts_of(world.routine)}
    assert start == datetime(2027, 3, 2, 8, 0, tzinfo=UTC)

    for later in (FIRST, FIRST + timedelta(minutes=1), FIRST + timedelta(hours=5)):
        assert sweep.run_due(later).prompts == 0
    assert len(prompts_of(world.routine)) == 3
    assert outbox_keys("prompt") == sorted(f"prompt:{p.id}" for p in prompts_of(world.routine))
    assert outbox_count() == 3


def test_the_next_period_is_two_weeks_later_at_nine_across_daylight_saving(prompt_world):
    world = prompt_world
    sweep.run_due(FIRST)
    for quiet in (local(2027, 3, 9), local(2027, 3, 16, 8, 59)):  # the off week, just before
        assert sweep.run_due(quiet).prompts == 0

    assert sweep.run_due(SECOND).prompts == 3
    assert prompted(world.routine, SECOND) == _ids(*world.staff)
    first = prompts_of(world.routine, world.jens)[0]
    assert first.period_end == SECOND == datetime(2027, 3, 16, 8, 0, tzinfo=UTC)

    # After 28 March 09:00 in Copenhagen is 07:00 UTC, not 08:00.
    assert THIRD == datetime(2027, 3, 30, 7, 0, tzinfo=UTC)
    assert sweep.run_due(THIRD - timedelta(minutes=1)).prompts == 0
    assert sweep.run_due(THIRD).prompts == 3
    assert sweep.run_due(datetime(2027, 3, 30, 8, 0, tzinfo=UTC)).prompts == 0
    assert prompted(world.routine, THIRD) == _ids(*world.staff)

    # And back in winter time: Tuesday 9 November 2027, 09:00 CET is 08:00 UTC again.
    autumn = datetime(2027, 11, 9, 8, 0, tzinfo=UTC)
    assert sweep.run_due(autumn - timedelta(minutes=1)).prompts == 0
    assert sweep.run_due(autumn).prompts == 3
    assert len(outbox_keys("prompt")) == 12


def test_a_paused_routine_prompts_and_nudges_nobody(prompt_world):
    world = prompt_world
    world.routine.paused_at = FIRST - timedelta(days=1)
    db.session.commit()
    assert sweep.run_due(FIRST).prompts == 0
    assert prompts_of(world.routine) == []

    world.routine.paused_at = None  # resumed the same morning: the period is still prompted
    db.session.commit()
    assert sweep.run_due(FIRST + timedelta(minutes=30)).prompts == 3

    world.routine.paused_at = FIRST + timedelta(days=1)
    db.session.commit()
    assert sweep.run_due(NUDGE_DAY).nudges == 0
    assert sweep.run_due(SECOND).prompts == 0
    assert _nudged(world) == set() and outbox_keys("nudge") == []


def test_a_member_on_leave_is_prompted_again_after_it(prompt_world):
    world = prompt_world
    db.session.add(PromptLeave(user_id=world.jens.id, collaboration_id=world.collab.id,
                               until=date(2027, 3, 16)))  # until and including that Tuesday
    db.session.commit()
    sweep.run_due(FIRST)
    sweep.run_due(SECOND)
    assert prompted(world.routine, FIRST) == _ids(world.julie, world.carla)
    assert prompted(world.routine, SECOND) == _ids(world.julie, world.carla)

    sweep.run_due(THIRD)
    assert prompted(world.routine, THIRD) == _ids(*world.staff)


def test_an_opted_out_member_gets_no_prompt(prompt_world):
    world = prompt_world
    db.session.add(RoutineOptOut(routine_id=world.routine.id, user_id=world.carla.id))
    db.session.commit()
    assert sweep.run_due(FIRST).prompts == 2
    assert prompted(world.routine) == _ids(world.jens, world.julie)
    assert len(outbox_keys("prompt")) == 2


def test_the_audience_can_be_chosen_by_partner(prompt_world):
    world = prompt_world
    cafe_staff = make_routine(world.collab, name="Café staff", partners=[world.cafe])
    whole_cafe = make_routine(world.collab, name="The café", roles=(), partners=[world.cafe])
    everyone = make_routine(world.collab, name="Everyone", roles=())
    sweep.run_due(FIRST)
    assert prompted(cafe_staff) == _ids(world.carla)  # staff AND café: not its coordinator
    assert prompted(whole_cafe) == _ids(world.carla, world.cafe_boss)
    assert prompted(everyone) == _ids(world.coordinator, world.cafe_boss, world.citizen,
                                      *world.staff)


# -- nudges ----------------------------------------------------------------------------------

def test_the_nudge_goes_once_to_those_who_have_not_answered(prompt_world):
    world = prompt_world
    sweep.run_due(FIRST)
    mine = prompts_of(world.routine, world.jens)[0]
    _reflect(world, world.jens, FIRST + timedelta(hours=2), prompt=mine)    # from the link
    _reflect(world, world.julie, FIRST + timedelta(days=1))                 # not from it
    _reflect(world, world.carla, FIRST - timedelta(days=1))                 # before the period

    assert sweep.run_due(NUDGE_DAY - timedelta(minutes=1)).nudges == 0
    result = sweep.run_due(NUDGE_DAY)
    assert result.nudges == 1
    assert _nudged(world) == _ids(world.carla)
    carla = prompts_of(world.routine, world.carla)[0]
    assert outbox_keys("nudge") == [f"nudge:{carla.id}"]

    assert sweep.run_due(NUDGE_DAY + timedelta(hours=1)).nudges == 0
    assert sweep.run_due(NUDGE_DAY + timedelta(days=2)).nudges == 0
    assert outbox_keys("nudge") == [f"nudge:{carla.id}"]


def test_an_answer_after_the_nudge_day_but_before_the_sweep_counts(prompt_world):
    world = prompt_world
    sweep.run_due(FIRST)
    _reflect(world, world.carla, NUDGE_DAY + timedelta(minutes=5))
    assert sweep.run_due(NUDGE_DAY + timedelta(minutes=10)).nudges == 2
    assert _nudged(world) == _ids(world.jens, world.julie)


def test_a_nudge_never_goes_to_someone_who_opted_out(prompt_world):
    world = prompt_world
    sweep.run_due(FIRST)
    db.session.add(RoutineOptOut(routine_id=world.routine.id, user_id=world.carla.id))
    db.session.commit()
    sweep.run_due(NUDGE_DAY)
    assert _nudged(world) == _ids(world.jens, world.julie)
    carla = prompts_of(world.routine, world.carla)[0]
    assert f"nudge:{carla.id}" not in outbox_keys("nudge")


def test_a_routine_without_nudge_never_nudges(prompt_world):
    world = prompt_world
    quiet = make_routine(world.collab, name="No reminders", nudge_after_days=None)
    sweep.run_due(FIRST)
    sweep.run_due(NUDGE_DAY)
    assert len(prompts_of(quiet)) == 3
    assert all(p.nudged_at is None for p in prompts_of(quiet))
    assert len(outbox_keys("nudge")) == 3  # the other routine's nudges only
    assert {db.session.get(Prompt, int(k.split(":")[1])).routine_id
            for k in outbox_keys("nudge")} == {world.routine.id}


def test_a_member_who_left_the_collaboration_is_not_prompted(prompt_world):
    world = prompt_world
    db.session.delete(db.session.scalars(select(Membership).where(
        Membership.collaboration_id == world.collab.id,
        Membership.user_id == world.julie.id)).one())
    db.session.commit()
    sweep.run_due(FIRST)
    assert prompted(world.routine) == _ids(world.jens, world.carla)


def test_a_member_who_goes_on_leave_after_the_prompt_gets_no_nudge(prompt_world):
    world = prompt_world
    sweep.run_due(FIRST)
    db.session.add(PromptLeave(user_id=world.jens.id, collaboration_id=world.collab.id,
                               until=(NUDGE_DAY + timedelta(days=3)).date()))
    db.session.commit()
    assert sweep.run_due(NUDGE_DAY).nudges == 2
    assert _nudged(world) == _ids(world.julie, world.carla)
