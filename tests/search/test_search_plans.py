"""The plan PostgreSQL makes for a page of a common word at a municipality's size: the newest
rows walked by their index on time until the page is full, not every match read and sorted.

A few thousand reflections of bench/seed.py (its word "minibus" is in about a sixth of the
texts), analyzed; the search's page statement, captured as the app runs it for the bench's
reader, is explained with its values. At 10,000 reflections the sorted plan took 21 ms where
the walk takes 9 (bench_10k).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from bench import seed as seeding
from coprod import policy
from coprod.accounts.models import User
from coprod.readonly import planned_each_time
from coprod.search import queries
from coprod.spaces.models import Collaboration

SIZE = 4000


@pytest.fixture
def seeded(db):
    found = seeding.seed(db, SIZE)
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return found


def page_statement(db, found) -> tuple[str, dict, dict]:
    """The SQL and values of the search's page statement, with its execution options."""
    reader = db.session.scalar(db.select(User).where(User.email == found.reader_email))
    collab = db.session.get(Collaboration, found.collaboration_id)
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters, dict(context.execution_options)))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        page = queries.search(policy.actor_for(reader), found.search, collab)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert page.more and len(page.hits) == queries.PAGE_SIZE  # a common word
    return seen[-1]


def test_a_common_word_walks_the_newest_rows_of_each_kind(db, seeded):
    sql, values, _options = page_statement(db, seeded)
    plan = "\n".join(_explain(db, sql, values))
    for table in ("reflections", "replies"):
        assert f"Seq Scan on {table} " not in plan, plan
    assert "Index Scan Backward" in plan, plan


def test_a_page_that_walks_is_planned_for_its_words(db, seeded):
    """A plan for any words (a prepared statement's generic plan) cannot tell a common word
    from a rare one: it read every match again."""
    _sql, _values, options = page_statement(db, seeded)
    assert planned_each_time(options)


def _explain(db, sql: str, values: dict) -> list[str]:
    """EXPLAIN of a statement as the driver runs it (psycopg's %(name)s placeholders)."""
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute("EXPLAIN " + sql, values, prepare=False)
    return [row[0] for row in cursor.fetchall()]
