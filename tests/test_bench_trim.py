"""bench/http.py's trim: what earlier runs posted goes, and the tables runs write are vacuumed
(the server may run without autovacuum, and dead rows left behind slowed later runs)."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import create_engine, make_url, text

from bench import http as bench_http
from tests.conftest import TEST_DATABASE_URL, _create_database_if_missing


def test_a_trim_deletes_what_runs_posted_and_vacuums_what_they_write():
    url = make_url(TEST_DATABASE_URL).set(database=make_url(TEST_DATABASE_URL).database
                                          + "_bench_trim")
    _create_database_if_missing(url.render_as_string(hide_password=False))
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table in bench_http.WRITTEN_TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
                conn.execute(text(f"CREATE TABLE {table} (id serial PRIMARY KEY, body text)"))
            conn.execute(text("INSERT INTO reflections (body) "
                              "SELECT 'posted ' || n FROM generate_series(1, 500) AS n"))
        before = _vacuums(engine)

        bench_http.trim(SimpleNamespace(engine=engine), SimpleNamespace(max_reflection_id=40))

        with engine.connect() as conn:
            assert conn.scalar(text("SELECT max(id) FROM reflections")) == 40
        after = _vacuums(engine)
        assert all(after[t] > before[t] for t in bench_http.WRITTEN_TABLES), (before, after)
    finally:
        engine.dispose()


def _vacuums(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT relname, vacuum_count FROM pg_stat_user_tables")).all())
