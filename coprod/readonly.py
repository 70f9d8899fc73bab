"""A request that only read ends its transaction with COMMIT, not ROLLBACK.

psycopg prepares a statement on the server once it has run five times on a connection, and
PostgreSQL then skips parsing it and, with a generic plan, planning it. But psycopg forgets
every prepared statement on a ROLLBACK (an object it named may have gone with it), and a
request that only read ends its transaction when its session closes, with a ROLLBACK. So no
statement ever reached its fifth run, and every page planned the policy's queries afresh: 20
to 26 ms of planning per page at 100,000 reflections (bench/plans.py), against 8 to 11 ms of
executing them.

For the database, committing a transaction that wrote nothing is the same as rolling it back.
What wrote is told by the statements themselves: any statement on the connection that is not a
read (`only_reads`: a SELECT, or a WITH that writes nothing) marks the transaction, and then
the request's end rolls back as before. So do an error, and objects changed in the session
but never flushed.
"""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import event

from coprod.extensions import db

_WROTE = "coprod_wrote"


def install(app: Flask) -> None:
    """Watch the app's engines and end read-only requests with a commit."""
    with app.app_context():
        engines = set(db.engines.values())
    for engine in engines:
        if engine.dialect.name != "postgresql":
            continue  # what is kept across transactions is psycopg's
        event.listen(engine, "do_execute", _unprepared_where_asked)
        event.listen(engine, "before_cursor_execute", _note_writes)
        event.listen(engine, "commit", _forget)
        event.listen(engine, "rollback", _forget)
    app.teardown_request(_end_read_only)


# A read begins SELECT, or WITH (common table expressions; the search's), after any
# parentheses (a UNION of limited SELECTs). A WITH may hold a data-modifying statement.
_READ = re.compile(r"\s*\(*\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


def only_reads(statement: str) -> bool:
    """Whether a SQL statement reads and writes nothing: a SELECT, or a WITH with no
    INSERT, UPDATE, DELETE or MERGE anywhere in it (a word, not part of a name). Anything
    else counts as a write. Shared with the page cache (coprod/pagecache.py)."""
    head = _READ.match(statement)
    if head is None:
        return False
    return head.group(1).upper() == "SELECT" or _WRITE_WORD.search(statement) is None


def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if executemany or not only_reads(statement):
        conn.info[_WROTE] = True


# A statement's execution option: never prepare it, so PostgreSQL plans it for its values each
# time. For a statement whose best plan depends on its values more than planning costs (the
# search's first count: its generic plan took 23 ms for "driver", a plan for the word 8 ms).
PLAN_EACH_TIME = {"coprod_plan_each_time": True}


def _unprepared_where_asked(cursor, statement, parameters, context) -> bool | None:
    """do_execute: execute without preparing when the statement asks (PLAN_EACH_TIME)."""
    if context is None or not context.execution_options.get("coprod_plan_each_time"):
        return None
    cursor.execute(statement, parameters, prepare=False)
    return True


def _forget(conn) -> None:
    conn.info.pop(_WROTE, None)


def _end_read_only(error) -> None:
    """teardown_request (before Flask-SQLAlchemy closes the session): commit what only read."""
    if error is not None or db.engine.dialect.name != "postgresql":
        return
    session = db.session()  # this request's Session, not the scoped proxy
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    try:
        if session.connection().info.get(_WROTE):
            return
        session.commit()
    except Exception:  # noqa: BLE001 - nothing was written; the close rolls back as before
        session.rollback()
