"""How a digest build scales: one collaboration with 10,000 reflections in one period, on
PostgreSQL.

    COPROD_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/coprod_bench \\
        .venv/bin/python bench/digest_scale.py [--reflections 10000] [--repeat 3]

THE DATABASE IS WIPED (its public schema is dropped and migrated afresh). The URL comes from
COPROD_BENCH_DATABASE_URL, else DATABASE_URL, else the default below.

It prints, for the period:
  (a) build.build: the whole digest (GROUP BY cells, participation, prompt days, actions,
      frictions, and the theme grouping of the most recent build.THEME_WINDOW_MAX reflections);
  (b) the bare SQL aggregate of the same counts: one GROUP BY over the period's reflections;
  (c) the theme grouping alone (coprod.digests.themes.group) over the texts build groups;
and the first build's time apart: it embeds the window (cold) and stores the vectors, which
the timed builds then read from the database as a restarted worker would;
each with its ratio to (b), the reflections in the period, and the peak memory: Python's
allocations during one build (tracemalloc, measured in a separate run because tracing slows
Python down) and the process's maximum resident set size (getrusage).

The script is bounded: it stops itself after TIME_LIMIT seconds whatever happens.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# bench/http.py must not stand in for the standard library's http (werkzeug imports it).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/coprod_h1"
TIME_LIMIT = 900
PARTNERS = 10
MEMBERS_PER_PARTNER = 5
# The period: February 2026 in UTC, monthly digests from 1 January.
ANCHOR = date(2026, 1, 1)
PERIOD_START = datetime(2026, 2, 1, tzinfo=UTC)
PERIOD_DAYS = 28
SEED = 7

# Reflections are sentences about recurring subjects of a co-produced service, varied enough
# that grouping has real work to do (not 10,000 copies of a dozen texts).
SUBJECTS = [
    ("the minibus", ["arrives late", "is full on Thursdays", "driver calls ahead",
                     "timetable changed again"]),
    ("the shift plan", ["comes on Friday", "changes after Monday", "is shared too late",
                        "names the mentor"]),
    ("the follow-up call", ["after the first month", "nobody owns", "the case worker makes",
                            "the mentor joins"]),
    ("the Thursday café", ["brings partners together", "few partners came to",
                           "new associations join", "needs an agenda"]),
    ("the consent form", ["takes the whole first meeting", "could go to the guardian first",
                          "is hard to read", "in plain language helps"]),
    ("mentoring", ["one fixed mentor", "short first shifts", "a welcome plan",
                   "mentor training morning"]),
    ("volunteering at the shelter", ["walking the dogs in pairs", "is hard to reach by bus",
                                     "feeding rota at weekends", "regulars welcome newcomers"]),
    ("the lunch rush", ["is too loud", "a quiet task first", "the back kitchen helps",
                        "breaks before noon"]),
]
OPENINGS = ["We noticed that", "This fortnight", "Again", "Our staff say", "Residents told us",
            "It helped that", "We should agree on", "It worked well when"]
KINDS = ["works", "improve"]
PERSPECTIVES = ["local", "citizens", "collaboration"]
COMPONENTS = ["governance", "resources", "assets", "routines"]
VISIBILITIES = ["collaboration"] * 14 + ["organization"] * 3 + ["coordinators"] * 2 + ["partners"]


def database_url() -> str:
    return (os.environ.get("COPROD_BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
            or DEFAULT_URL)


def make_app(url: str):
    os.environ["COPROD_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="coprod-bench-")
    from coprod import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                       "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://",
                       "CELERY": {"broker_url": "memory://", "task_always_eager": False}})


def wipe_and_migrate(db) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade()


def seed(db, count: int):
    """One collaboration, its partners and members (ORM), then the reflections, their chosen
    audiences and a routine's prompts with core INSERTs."""
    from sqlalchemy import insert

    from coprod.accounts.models import Role, User
    from coprod.digests.models import DigestCadence, DigestSettings
    from coprod.reflections.models import Reflection, ReflectionAudience
    from coprod.routines.models import Prompt, Routine
    from coprod.spaces.models import (
        Charter,
        Collaboration,
        Membership,
        Organization,
        Partner,
        Purpose,
        RemitKind,
        Sector,
    )

    rng = random.Random(SEED)
    collab = Collaboration(title="Scale", purpose=Purpose.NEW_SERVICE,
                           remit_kind=RemitKind.SOCIAL_GROUP, remit="Everyone",
                           timezone="UTC", charter=Charter())
    db.session.add(collab)
    partners = [Partner(collaboration=collab,
                        organization=Organization(name=f"Partner {i}", sector=Sector.PUBLIC))
                for i in range(PARTNERS)]
    db.session.add_all(partners)
    db.session.flush()
    authors = []
    for p, partner in enumerate(partners):
        for m in range(MEMBERS_PER_PARTNER):
            user = User(email=f"member{p}-{m}@bench.example.org", display_name=f"Member {p}-{m}")
            db.session.add(user)
            db.session.flush()
            role = Role.COORDINATOR if (p, m) == (0, 0) else Role.PARTNER_STAFF
            db.session.add(Membership(collaboration_id=collab.id, user_id=user.id, role=role,
                                      partner_id=partner.id))
            authors.append((user.id, partner.id))
    db.session.add(DigestSettings(collaboration_id=collab.id, cadence=DigestCadence.MONTHLY,
                                  anchor_on=ANCHOR, send_automatically=False))
    routine = Routine(collaboration_id=collab.id, name="Fortnightly", timezone="UTC",
                      rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9", anchor_on=ANCHOR,
                      questions=[])
    db.session.add(routine)
    db.session.flush()

    rows = []
    for i in range(count):
        user_id, partner_id = rng.choice(authors)
        subject, details = rng.choice(SUBJECTS)
        body = (f"{rng.choice(OPENINGS)} {subject}: {rng.choice(details)}, "
                f"{rng.choice(details)} (note {i}).")
        rows.append(dict(
            collaboration_id=collab.id, author_id=user_id, partner_id=partner_id,
            kind=rng.choice(KINDS), perspective=rng.choice(PERSPECTIVES),
            component=rng.choice(COMPONENTS), learning_level="inter", mode="exploitation",
            body=body, visibility=rng.choice(VISIBILITIES), attribution="person",
            created_at=PERIOD_START + timedelta(seconds=rng.randrange(PERIOD_DAYS * 86400))))
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(Reflection), rows[start:start + 2000])
    chosen = db.session.execute(
        Reflection.__table__.select().with_only_columns(Reflection.id, Reflection.partner_id)
        .where(Reflection.visibility == "partners")).all()
    partner_ids = [p.id for p in partners]
    audience = [dict(reflection_id=r.id, partner_id=rng.choice(
        [p for p in partner_ids if p != r.partner_id])) for r in chosen]
    if audience:
        db.session.execute(insert(ReflectionAudience), audience)
    prompts = [dict(routine_id=routine.id, user_id=user_id, partner_id=partner_id,
                    period_start=PERIOD_START + timedelta(days=d),
                    period_end=PERIOD_START + timedelta(days=d + 14),
                    created_at=PERIOD_START + timedelta(days=d))
               for user_id, partner_id in authors for d in (2, 16)]
    db.session.execute(insert(Prompt), prompts)
    db.session.commit()
    return collab.id


def timed(fn, repeat: int) -> tuple[float, object]:
    """The median wall-clock time of `repeat` runs, and the last run's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reflections", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    signal.alarm(TIME_LIMIT)  # bounded: SIGALRM ends the process if anything hangs

    url = database_url()
    app = make_app(url)
    from sqlalchemy import func, select

    from coprod.digests import build, periods, themes
    from coprod.extensions import db
    from coprod.reflections.models import Reflection
    from coprod.spaces.models import Collaboration

    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)} (wiped)")
        wipe_and_migrate(db)
        start = time.perf_counter()
        collaboration_id = seed(db, args.reflections)
        print(f"seeded {args.reflections} reflections in {time.perf_counter() - start:.1f} s")
        collab = db.session.get(Collaboration, collaboration_id)
        period = periods.period_at(collab, PERIOD_START)
        in_period = db.session.scalar(select(func.count()).select_from(Reflection).where(
            Reflection.collaboration_id == collab.id, Reflection.created_at >= period.start,
            Reflection.created_at < period.end))

        def bare():
            stmt = (select(Reflection.visibility, Reflection.partner_id, Reflection.kind,
                           Reflection.component, Reflection.perspective, func.count())
                    .where(Reflection.collaboration_id == collab.id,
                           Reflection.withdrawn_at.is_(None),
                           Reflection.created_at >= period.start,
                           Reflection.created_at < period.end)
                    .group_by(Reflection.visibility, Reflection.partner_id, Reflection.kind,
                              Reflection.component, Reflection.perspective))
            return db.session.execute(stmt).all()

        def whole():
            themes._vector_cache.clear()  # a fresh worker: vectors come from the database
            digest = build.build(collab, period, rebuild=True)
            db.session.commit()
            return digest

        window = [*periods.earlier_periods(collab, period), period]
        texts = [s["text"] for s in build.theme_sources(collab.id, window)]

        bare()
        start = time.perf_counter()
        whole()  # the first build embeds the window (cold) and stores the vectors
        t_first = time.perf_counter() - start
        t_bare, groups = timed(bare, args.repeat * 3)
        t_cells, _cells = timed(lambda: build.cells(collab.id, period), args.repeat)
        t_build, digest = timed(whole, args.repeat)
        t_themes, grouping = timed(lambda: themes.group(texts), args.repeat)

        tracemalloc.start()
        whole()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

        print(f"reflections in the period: {in_period}; grouped for themes: {len(texts)} "
              f"(build.THEME_WINDOW_MAX = {build.THEME_WINDOW_MAX})")
        print(f"cells in the digest: {len(digest.data['cells'])}; bare GROUP BY rows: "
              f"{len(groups)}; themes: {len(grouping.themes)}, ungrouped: "
              f"{len(grouping.ungrouped)}")
        print(f"median of {args.repeat} runs (the bare aggregate: {args.repeat * 3}):")
        print(f"  (b) bare SQL aggregate      {t_bare * 1000:9.1f} ms   1.0x")
        print(f"      build.cells (its SQL)   {t_cells * 1000:9.1f} ms {t_cells / t_bare:6.1f}x")
        print(f"  (a) build.build             {t_build * 1000:9.1f} ms {t_build / t_bare:6.1f}x"
              "   (vectors read from the database)")
        print(f"  (c) theme grouping alone    {t_themes * 1000:9.1f} ms "
              f"{t_themes / t_bare:6.1f}x")
        print(f"first build, embedding the window (cold): {t_first:.1f} s; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"peak Python allocations during one build (tracemalloc): {peak / 2**20:.1f} MiB")
        print(f"peak resident set size of the process (getrusage): {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
