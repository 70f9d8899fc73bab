"""psycopg's cursor as Coprod sets it (coprod.dbapi.DescribedOnRead): its description is
psycopg's own when read, and not built when SQLAlchemy only asks whether rows came back."""

from __future__ import annotations

import psycopg
import pytest
from psycopg._column import Column
from sqlalchemy import select, text

from coprod.dbapi import DescribedOnRead
from coprod.spaces.models import Collaboration
from tests.factories import CollaborationFactory


@pytest.fixture
def driver(db):
    """The driver's connection under the test's session (a raw psycopg connection)."""
    return db.session.connection().connection.driver_connection


def test_the_apps_connections_use_it(driver):
    assert driver.cursor_factory is DescribedOnRead
    assert type(driver.cursor()) is DescribedOnRead


def test_its_description_is_psycopgs(driver):
    query = "SELECT 1 AS one, 'two'::text AS two, now() AS three"
    ours = driver.cursor()
    ours.execute(query)
    theirs = psycopg.Cursor(driver)
    theirs.execute(query)
    assert len(ours.description) == 3 and ours.description
    assert [tuple(c) for c in ours.description] == [tuple(c) for c in theirs.description]
    assert ours.description[1].name == "two" and ours.description[-1][0] == "three"
    assert [c.name for c in ours.description[:2]] == ["one", "two"]
    ours.execute("SELECT")  # rows, with no columns
    assert len(ours.description) == 0 and not ours.description
    assert ours.description is not None


def test_a_statement_that_returns_no_rows_has_no_description(driver):
    cursor = driver.cursor()
    cursor.execute("CREATE TEMPORARY TABLE described (id integer)")
    assert cursor.description is None
    cursor.execute("INSERT INTO described VALUES (1)")
    assert cursor.description is None
    cursor.execute("INSERT INTO described VALUES (2) RETURNING id")
    assert [c.name for c in cursor.description] == ["id"]


def test_a_description_read_after_the_next_statement_is_refused(driver):
    cursor = driver.cursor()
    cursor.execute("SELECT 1 AS first")
    description = cursor.description
    cursor.execute("SELECT 2 AS second")
    with pytest.raises(psycopg.InterfaceError):
        list(description)
    assert [c.name for c in cursor.description] == ["second"]


def test_sqlalchemy_reads_rows_by_name_through_it(db):
    row = db.session.execute(text("SELECT 1 AS a, 'x' AS b")).mappings().one()
    assert row == {"a": 1, "b": "x"}


def test_a_statement_sqlalchemy_knows_builds_no_column_descriptions(db, monkeypatch):
    collab = CollaborationFactory(title="Described")
    db.session.flush()
    query = select(Collaboration.id, Collaboration.title).where(Collaboration.id == collab.id)
    assert db.session.execute(query).one() == (collab.id, "Described")  # now known
    built = []
    init = Column.__init__
    monkeypatch.setattr(Column, "__init__",
                        lambda self, *args: built.append(args[-1]) or init(self, *args))
    assert db.session.execute(query).one() == (collab.id, "Described")
    assert built == []
