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
SELECT marks the transaction, and then the request's end rolls back as before. So do an
error, and objects changed in the session but never flushed.
"""

from __future__ import annotations

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
        event.listen(engine, "before_cursor_execute", _note_writes)
        event.listen(engine, "commit", _forget)
        event.listen(engine, "rollback", _forget)
    app.teardown_request(_end_read_only)


def _note_writes(conn, cursor, statement, parameters, context, executemany) -> None:
    if executemany or not statement.lstrip()[:6].upper() == "SELECT":
        conn.info[_WROTE] = True


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
