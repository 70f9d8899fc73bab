"""Statements run Direct (coprod/direct.py): on the driver's cursor, compiled once, and still
answering, converting, erring and being seen exactly as through SQLAlchemy's execute()."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, exc, insert, literal, select, text

from coprod.direct import Direct
from coprod.spaces.models import Collaboration, CollaborationStatus, Organization, Sector
from tests.conftest import embedded_app, statements_run
from tests.factories import CollaborationFactory, OrganizationFactory
from tests.test_readonly import _terminate

NOON_IN_HELSINKI = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))


def _organization_by_name():
    table = Organization.__table__
    return select(table.c.id, table.c.name, table.c.sector, table.c.created_at,
                  literal("constant").label("constant")).where(
        table.c.name == bindparam("name"))


def test_a_row_is_what_sqlalchemys_execute_answers(db):
    OrganizationFactory(name="Havnens Plejehjem", sector=Sector.PRIVATE,
                        created_at=NOON_IN_HELSINKI)
    db.session.flush()
    statement, connection = _organization_by_name(), db.session.connection()
    direct = Direct(statement).first(connection, {"name": "Havnens Plejehjem"})
    assert direct == tuple(connection.execute(statement, {"name": "Havnens Plejehjem"}).first())
    assert direct[3] == NOON_IN_HELSINKI and direct[3].tzinfo is not None
    assert direct[4] == "constant"  # a constant of the statement, bound by it
    assert Direct(statement).first(connection, {"name": "Nobody"}) is None


def test_values_are_converted_as_sqlalchemy_converts_them(db):
    """An enum member is written as its value, an aware time in UTC; a naive time is refused
    as the column's type refuses it."""
    table = Organization.__table__
    adding = Direct(insert(table).returning(table.c.id, table.c.created_at))
    row = adding.first(db.session.connection(), {
        "name": "Jobcenter", "sector": Sector.PUBLIC, "created_at": NOON_IN_HELSINKI})
    stored = db.session.execute(text(
        "SELECT sector, to_char(created_at AT TIME ZONE 'UTC', 'HH24:MI') FROM organizations "
        "WHERE id = :id"), {"id": row[0]}).one()
    assert tuple(stored) == ("public", "09:00")
    assert row[1] == NOON_IN_HELSINKI
    with pytest.raises(exc.StatementError, match="naive datetime"):
        adding.first(db.session.connection(), {
            "name": "Naive", "sector": Sector.PUBLIC, "created_at": datetime(2026, 6, 1)})


def test_a_statement_needing_work_at_execution_is_refused(db):
    """created_at's default is Python's (utcnow): it cannot be left to the statement; a
    parameter whose name SQLAlchemy escapes, or an IN list it expands, neither."""
    table = Organization.__table__
    connection = db.session.connection()
    with pytest.raises(ValueError, match="at execution"):
        Direct(insert(table).returning(table.c.id)).first(
            connection, {"name": "No time", "sector": Sector.PUBLIC})
    with pytest.raises(ValueError, match="at execution"):
        Direct(select(table.c.id).where(table.c.name == bindparam("the name"))).first(
            connection, {"the name": "Jobcenter"})
    with pytest.raises(ValueError, match="at execution"):
        Direct(select(table.c.id).where(table.c.name.in_(bindparam("names", expanding=True)))
               ).first(connection, {"names": ["Jobcenter"]})


def test_the_engines_and_the_connections_listeners_see_it(db):
    connection = db.session.connection()
    on_connection = []
    event.listen(connection, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: on_connection.append(statement))
    with statements_run(db) as run:
        Direct(_organization_by_name()).first(connection, {"name": "Anyone"})
    assert len(run) == 1 and run[0].startswith("SELECT organizations.id")
    assert on_connection == run


def test_a_refused_row_raises_sqlalchemys_integrity_error(db):
    collaboration = CollaborationFactory(title="Fælles indsats")
    db.session.flush()
    table = Collaboration.__table__
    again = {c.key: getattr(collaboration, c.key) for c in table.columns}
    with pytest.raises(exc.IntegrityError):
        Direct(insert(table).returning(table.c.id)).first(db.session.connection(), again)
    db.session.rollback()


@pytest.mark.committed  # the pool's own connection, ended by the server
def test_a_connection_the_server_ended_is_given_up_and_replaced(app, db):
    connection = db.session.connection()
    backend = connection.scalar(text("SELECT pg_backend_pid()"))
    _terminate(app, backend)
    with pytest.raises(exc.DBAPIError) as raised:
        Direct(_organization_by_name()).first(connection, {"name": "Anyone"})
    assert raised.value.connection_invalidated
    db.session.rollback()
    assert db.session.scalar(text("SELECT pg_backend_pid()")) != backend


def test_on_sqlite_it_runs_through_sqlalchemy(app, tmp_path):
    from coprod.extensions import db

    with embedded_app(app, tmp_path):
        CollaborationFactory(title="Indlejret", status=CollaborationStatus.ACTIVE)
        db.session.flush()
        table = Collaboration.__table__
        row = Direct(select(table.c.title, table.c.status)).first(db.session.connection(), {})
        assert row == ("Indlejret", CollaborationStatus.ACTIVE)
        assert Direct(select(table.c.title).where(table.c.id == -1)).first(
            db.session.connection(), {}) is None


def test_a_statement_is_compiled_once_per_set_of_names(db):
    statement = _organization_by_name()
    direct, connection = Direct(statement), db.session.connection()
    for name in ("One", "Two", "Three"):
        direct.first(connection, {"name": name})
    assert len(direct._compiled) == 1


def test_a_statement_asking_to_be_planned_each_time_is_never_prepared(db):
    """As coprod/readonly.py's hook runs it through execute(): psycopg prepares a statement
    from its fifth run on, unless told not to."""
    from coprod.readonly import PLAN_EACH_TIME

    marker = literal("planned each time").label("marker")
    table = Organization.__table__
    planned = Direct(select(table.c.id, marker).execution_options(**PLAN_EACH_TIME))
    prepared = Direct(select(table.c.name, marker))
    connection = db.session.connection()
    for _ in range(8):
        planned.first(connection, {})
        prepared.first(connection, {})
    kept = db.session.scalars(text(
        "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%AS marker%'"
    )).all()
    assert len(kept) == 1 and "organizations.name" in kept[0]
