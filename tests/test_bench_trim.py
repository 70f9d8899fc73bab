"""bench/http.py's trim: what earlier runs posted goes, and the tables runs write are vacuumed
(the server may run without autovacuum, and dead rows left behind slowed later runs). It runs
on an app's own engine, whose statements that are not reads begin a transaction
(coprod/readonly.py), and VACUUM must still run outside one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import make_url, text

from bench import http as bench_http
from tests.conftest import (
    TEST_DATABASE_URL,
    _create_database_if_missing,
    celery_back_to,
    make_app,
)


def test_a_trim_deletes_what_runs_posted_and_vacuums_what_they_write(app, tmp_path):
    test_url = make_url(TEST_DATABASE_URL)
    url = test_url.set(database=f"{test_url.database}_bench_trim").render_as_string(
        hide_password=False)
    _create_database_if_missing(url)
    scratch = make_app(tmp_path, database_url=url)
    try:
        with scratch.app_context():
            from coprod.extensions import db

            with db.engine.begin() as conn:
                for table in bench_http.WRITTEN_TABLES:
                    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
                    conn.execute(text(f"CREATE TABLE {table} (id serial PRIMARY KEY, body text)"))
                conn.execute(text("INSERT INTO reflections (body) "
                                  "SELECT 'posted ' || n FROM generate_series(1, 500) AS n"))
            before = _vacuums(db.engine)

            bench_http.trim(db, SimpleNamespace(max_reflection_id=40))

            with db.engine.connect() as conn:
                assert conn.scalar(text("SELECT max(id) FROM reflections")) == 40
            after = _vacuums(db.engine)
            db.engine.dispose()
        assert all(after[t] > before[t] for t in bench_http.WRITTEN_TABLES), (before, after)
    finally:
        celery_back_to(app)


def test_a_fresh_seed_is_vacuumed_whole(app, tmp_path, monkeypatch):
    """prepare() after seeding: every table vacuumed, not only analyzed (a served database
    has autovacuum; this machine's server has none)."""
    test_url = make_url(TEST_DATABASE_URL)
    url = test_url.set(database=f"{test_url.database}_bench_seed").render_as_string(
        hide_password=False)
    _create_database_if_missing(url)
    scratch = make_app(tmp_path, database_url=url)
    seeded = SimpleNamespace(max_reflection_id=0, counts={}, as_json=lambda: {})
    monkeypatch.setattr(bench_http.seeding, "seed", lambda db, size: seeded)
    monkeypatch.setattr(bench_http, "trim", lambda db, found: None)
    try:
        assert bench_http.prepare(scratch, 40, reseed=True) is seeded
        with scratch.app_context():
            from coprod.extensions import db

            counts = _vacuums(db.engine)
            db.engine.dispose()
        assert counts and all(count > 0 for count in counts.values()), counts
    finally:
        celery_back_to(app)


def _vacuums(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT relname, vacuum_count FROM pg_stat_user_tables")).all())


def test_each_round_of_a_writing_endpoint_is_tidied_before_the_next_baseline(monkeypatch):
    """The baseline after round one must not read what round one posted: the rows a posting
    round left made the baseline's query slower and posting's ratio rise with each round. A
    page that only reads is not tidied after (there is nothing to take away). Each run of an
    endpoint sits between two baseline runs."""
    happened: list[str] = []
    figures = bench_http.Figures(rps=100.0, p50=0.01, p99=0.02, requests=300, statuses={})
    monkeypatch.setattr(bench_http, "run_wrk",
                        lambda *a, **k: happened.append("baseline") or figures)
    monkeypatch.setattr(bench_http, "drive",
                        lambda coprod, endpoint, *a, **k: happened.append(endpoint.name)
                        or figures)
    found = SimpleNamespace(collaboration_id=1, reflection_id=1, search="bus", token="t")
    by_name = {e.name: e for e in bench_http.endpoints(found)}
    args = SimpleNamespace(rounds=3)

    bench_http.drive_rounds(None, by_name["post"], found, args, "http://bare",
                            tidy=lambda: happened.append("tidy"))
    assert happened == ["baseline"] + ["post", "tidy", "baseline"] * 3

    happened.clear()
    bench_http.drive_rounds(None, by_name["feed"], found, args, "http://bare",
                            tidy=lambda: happened.append("tidy"))
    assert happened == ["baseline"] + ["feed", "baseline"] * 3


def test_a_round_is_paired_with_the_mean_of_the_baselines_on_either_side(monkeypatch):
    """The machine's speed drifts: a round's baseline is the mean of the runs before and
    after it, each shared with the neighbouring round."""
    baselines = iter([100.0, 300.0, 200.0])
    monkeypatch.setattr(bench_http, "run_wrk", lambda *a, **k: bench_http.Figures(
        rps=(rate := next(baselines)), p50=0.01, p99=0.02, requests=int(rate), statuses={},
        cpu=1 / rate))
    monkeypatch.setattr(bench_http, "drive", lambda *a, **k: bench_http.Figures(
        rps=50.0, p50=0.01, p99=0.02, requests=50, statuses={}, cpu=0.02))
    found = SimpleNamespace(collaboration_id=1, reflection_id=1, search="bus", token="t")
    post = next(e for e in bench_http.endpoints(found) if e.name == "post")

    rounds = bench_http.drive_rounds(None, post, found, SimpleNamespace(rounds=2), "http://b")
    assert [alongside.rps for alongside, _figures in rounds["post"]] == [200.0, 250.0]
    assert rounds["post"][0][0].cpu == pytest.approx((1 / 100 + 1 / 300) / 2)
