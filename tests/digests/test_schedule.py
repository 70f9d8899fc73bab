"""Digests on a schedule: beat's sweep queues one build per closed period without a digest, a
build happens once however often it is queued or raced, and `coprod digests build/backfill`."""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, insert, select

from coprod.accounts.models import Role
from coprod.digests import build, tasks
from coprod.digests.models import Digest, DigestCadence, DigestSettings, DigestStatus
from coprod.mail.models import OutboxEmail
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.spaces.models import CollaborationStatus
from tests.conftest import published_tasks
from tests.factories import CollaborationFactory, PartnerFactory, member

FIELDS = dict(kind="works", perspective="citizens", component="routines",
              learning_level="inter", mode="exploitation")
# Weekly digests from Monday 5 January 2026, Copenhagen time (UTC+1 in winter).
ANCHOR = date(2026, 1, 5)


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=1)


def week(n: int) -> datetime:
    """The start of the n-th weekly period (0: the week of 5 January), as UTC."""
    return local_midnight(ANCHOR + timedelta(weeks=n))


@pytest.fixture
def collab(db):
    collab = CollaborationFactory(title="Meaningful work", timezone="Europe/Copenhagen")
    partner = PartnerFactory(collaboration=collab)
    author = member(collab, Role.COORDINATOR, partner).user
    db.session.add(DigestSettings(collaboration_id=collab.id, cadence=DigestCadence.WEEKLY,
                                  anchor_on=ANCHOR, send_automatically=False))
    for n in range(6):
        reflection = reflections.post_reflection(actor_for(author), collab,
                                                 body=f"Week {n}: the mentor meeting helped",
                                                 **FIELDS)
        reflection.created_at = week(n) + timedelta(days=2)
    db.session.commit()
    collab.author = author
    return collab


def queued_builds(app) -> list[tuple]:
    """Take the build tasks off the in-memory broker: their arguments."""
    return [tuple(args) for args, _headers in published_tasks(app, tasks.BUILD_TASK)]


@pytest.fixture
def builds(app):
    queued_builds(app)
    return lambda: queued_builds(app)


def digests(db) -> list[Digest]:
    db.session.expire_all()
    return list(db.session.scalars(select(Digest).order_by(Digest.period_start)))


def test_the_sweep_queues_the_latest_closed_period_only(db, collab, builds):
    # Tuesday of week 4: weeks 0-3 have closed, the latest more than a day ago.
    queued = tasks.sweep(now=week(4) + timedelta(days=1, hours=10))

    assert queued == 1
    assert builds() == [(collab.id, week(3).isoformat())]


def test_the_sweep_skips_archived_collaborations_and_built_periods(db, collab, builds):
    now = week(4) + timedelta(hours=3)
    tasks.build_digest.run(collab.id, week(3).isoformat())
    assert tasks.sweep(now=now) == 0
    collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    assert tasks.sweep(now=week(5) + timedelta(hours=3)) == 0
    assert builds() == []


def test_a_closed_period_is_built_once_however_often_the_sweep_runs(db, collab, builds):
    now = week(4) + timedelta(hours=3)
    for _ in range(3):
        tasks.sweep(now=now)
    queued = builds()
    assert queued == [(collab.id, week(3).isoformat())] * 3

    ids = {tasks.build_digest.run(*args) for args in queued}

    [digest] = digests(db)
    assert ids == {digest.id}
    assert (digest.period_start, digest.period_end) == (week(3), week(4))
    assert sum(c["n"] for c in digest.data["cells"]) == 1
    assert tasks.sweep(now=now) == 0
    assert builds() == []


@pytest.mark.committed  # a second connection must see the row
def test_a_concurrent_build_wins_and_the_other_rolls_back(db, app, collab, monkeypatch):
    """Another worker commits the same digest between this build's check and its insert."""
    real = build.periods.earlier_periods

    def racing(*args, **kwargs):
        with db.engine.begin() as other:
            other.execute(insert(Digest).values(
                collaboration_id=collab.id, period_start=week(3), period_end=week(4),
                status=DigestStatus.BUILT, data={"cells": []}, method="default",
                built_at=week(4), note=""))
        return real(*args, **kwargs)

    monkeypatch.setattr(build.periods, "earlier_periods", racing)

    assert tasks.build_digest.run(collab.id, week(3).isoformat()) is None

    [digest] = digests(db)
    assert digest.data == {"cells": []}
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


@pytest.mark.skipif(importlib.util.find_spec(tasks.SENDING_MODULE) is None,
                    reason="digests are not sent yet")
def test_a_digest_is_sent_when_built_if_the_collaboration_sends_automatically(db, collab,
                                                                                outbox):
    settings = db.session.get(DigestSettings, collab.id)
    tasks.build_digest.run(collab.id, week(2).isoformat())
    assert [d.status for d in digests(db)] == [DigestStatus.BUILT]
    settings.send_automatically = True
    db.session.commit()

    tasks.build_digest.run(collab.id, week(3).isoformat())

    assert [d.status for d in digests(db)] == [DigestStatus.BUILT, DigestStatus.SENT]
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_a_build_of_a_period_that_does_not_exist_does_nothing(db, collab):
    assert tasks.build_digest.run(collab.id, (week(3) + timedelta(hours=5)).isoformat()) is None
    assert tasks.build_digest.run(collab.id + 1, week(3).isoformat()) is None
    assert digests(db) == []


# -- the command line ---------------------------------------------------------------------------

@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def test_cli_builds_the_period_of_a_local_day_once(cli, db, collab):
    with freeze_time(week(4) + timedelta(days=3)):
        result = cli("digests", "build", "--collaboration", str(collab.id),
                     "--period", "2026-01-28")
        again = cli("digests", "build", "--collaboration", str(collab.id),
                    "--period", "2026-01-26")

    assert result.exit_code == 0, result.output
    [digest] = digests(db)
    assert (f"Digest #{digest.id} of Meaningful work, 2026-01-26 to 2026-02-01: built at"
            in result.output)
    assert again.exit_code == 0 and f"Digest #{digest.id} " in again.output
    assert len(digests(db)) == 1


def test_cli_rebuild_counts_what_was_added_since(cli, db, collab):
    with freeze_time(week(4) + timedelta(days=3)):
        cli("digests", "build", "--collaboration", str(collab.id), "--period", "2026-01-28")
        [before] = digests(db)
        late = reflections.post_reflection(
            actor_for(collab.author), collab, body="A late note about the mentor meeting", **FIELDS)
        late.created_at = week(3) + timedelta(days=4)
        db.session.commit()
        kept = cli("digests", "build", "--collaboration", str(collab.id),
                   "--period", "2026-01-28")
        rebuilt = cli("digests", "build", "--collaboration", str(collab.id),
                      "--period", "2026-01-28", "--rebuild")

    assert kept.exit_code == 0 and rebuilt.exit_code == 0, rebuilt.output
    [after] = digests(db)
    assert after.id == before.id
    assert sum(c["n"] for c in after.data["cells"]) == 2


def test_cli_build_refuses_an_open_period_and_an_unknown_collaboration(cli, db, collab):
    with freeze_time(week(4) + timedelta(days=3)):
        open_period = cli("digests", "build", "--collaboration", str(collab.id),
                          "--period", "2026-02-03")
        before = cli("digests", "build", "--collaboration", str(collab.id),
                     "--period", "2025-12-01")
        unknown = cli("digests", "build", "--collaboration", str(collab.id + 99),
                      "--period", "2026-01-28")

    assert open_period.exit_code == 1
    assert "The period 2026-02-02 to 2026-02-08 has not closed yet." in open_period.output
    assert before.exit_code == 1 and "No digest period contains 2025-12-01." in before.output
    assert unknown.exit_code == 1 and "No collaboration has the id" in unknown.output
    assert digests(db) == []


def test_cli_backfill_builds_every_missing_closed_period(cli, db, collab):
    other = CollaborationFactory(timezone="Europe/Copenhagen")
    db.session.add(DigestSettings(collaboration_id=other.id, cadence=DigestCadence.MONTHLY,
                                  anchor_on=date(2025, 12, 1)))
    db.session.commit()
    with freeze_time(week(5) + timedelta(days=1)):
        cli("digests", "build", "--collaboration", str(collab.id), "--period", "2026-01-14")
        only = cli("digests", "backfill", "--collaboration", str(collab.id))
        rest = cli("digests", "backfill")
        none = cli("digests", "backfill")

    assert only.exit_code == 0, only.output
    assert "Building digests" in only.output and "Built 4 digests." in only.output
    assert [d.period_start for d in digests(db) if d.collaboration_id == collab.id] == [
        week(n) for n in range(5)]
    assert "Built 2 digests." in rest.output  # December and January of the other one
    assert "Built 0 digests." in none.output
