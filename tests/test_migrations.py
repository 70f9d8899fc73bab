"""Migrations: one head, readable names, a full round trip, and models equal to the schema.

Runs on a scratch PostgreSQL database (created and dropped here, next to the test database)
and on a SQLite file, the two databases Coprod supports.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from coprod.search import is_fts_table, is_search_vector
from tests.conftest import TEST_DATABASE_URL, celery_back_to, make_app

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
REVISION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")
PREFIX = {"p": "pk_", "f": "fk_", "u": "uq_", "c": "ck_"}


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_exactly_one_head():
    assert len(script_directory().get_heads()) == 1


def test_revision_files_have_readable_names_and_a_straight_history():
    scripts = {s.revision: s for s in script_directory().walk_revisions()}
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    assert files, "no revision files"
    for name in files:
        match = REVISION_FILE.match(name)
        assert match, f"{name}: expected NNNN_slug.py"
        assert match.group(1) in scripts, f"{name}: revision id is not {match.group(1)}"
    numbers = sorted(int(r) for r in scripts)
    assert numbers == list(range(1, len(numbers) + 1))
    for revision, script in scripts.items():
        expected = None if revision == "0001" else f"{int(revision) - 1:04d}"
        assert script.down_revision == expected


# -- the round trip, on each database -------------------------------------------------------

@pytest.fixture
def scratch_postgres(app):
    """A database of its own (the test database next door is in use), dropped afterwards."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_mig"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)

    def run(sql: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_sqlite(app, tmp_path):
    return f"sqlite:///{tmp_path / 'migrations.db'}"


def _not_search_fts(name, type_, parent_names) -> bool:
    """SQLite's FTS5 tables of search (and their shadow tables) are made by a migration,
    not by models (coprod/search)."""
    if is_search_vector(name, type_, parent_names.get("table_name")):
        return False
    return type_ != "table" or not is_fts_table(name)


def schema_differences(db) -> list:
    """What `coprod db migrate` would generate now: nothing, if models match migrations."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_name": _not_search_fts})
        return compare_metadata(context, db.metadata)


def tables(db) -> set[str]:
    return {name for name in inspect(db.engine).get_table_names() if not is_fts_table(name)}


@pytest.mark.parametrize("database", ["scratch_postgres", "scratch_sqlite"])
def test_empty_to_head_to_base_to_head_matches_the_models(app, database, request, tmp_path):
    from coprod.extensions import db

    url = request.getfixturevalue(database)
    scratch = make_app(tmp_path / "instance", database_url=url)
    try:
        with scratch.app_context():
            model_tables = {t.name for t in db.metadata.sorted_tables}
            upgrade()
            assert tables(db) == model_tables | {"alembic_version"}
            assert schema_differences(db) == []
            downgrade(revision="base")
            assert tables(db) == {"alembic_version"}
            upgrade()
            assert schema_differences(db) == []
            db.session.remove()
            db.engine.dispose()
    finally:
        celery_back_to(app)


def test_every_constraint_and_index_is_named_by_the_convention(app, db):
    """Named constraints make later migrations (and SQLite batch rebuilds) reproducible."""
    constraints = db.session.execute(text(
        "SELECT c.conname, c.contype FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE n.nspname = 'public' AND c.contype IN ('p', 'f', 'u', 'c') "
        "AND t.relname != 'alembic_version'")).all()
    assert constraints
    misnamed = [name for name, kind in constraints if not name.startswith(PREFIX[kind])]
    assert misnamed == []
    indexes = db.session.execute(text(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint)")).scalars().all()
    assert [name for name in indexes if not name.startswith(("ix_", "uq_"))] == []
