"""Reads run outside a transaction; a transaction begins at the first write.

Each request's SQL used to run in one transaction: psycopg sent BEGIN before its first
statement and the request ended with COMMIT or ROLLBACK, two round trips besides the
statements, and the pool pinged each connection as it handed it out, a third. A worker thread
spends a round trip waiting for the server's process to be scheduled, and on a busy two-core
machine that wait is most of a small request: the token look-up behind `GET /api/v1/me` made
four round trips where the bare baseline of bench/http.py makes one.

Coprod runs at PostgreSQL's READ COMMITTED, where every statement of a transaction takes a
snapshot of its own and a plain SELECT locks no row: a SELECT run on its own sees what it would
have seen inside the transaction. So a connection is handed out in autocommit and switched to a
transaction just before the first statement that writes or locks (anything `only_reads` does
not call a read, or a SELECT ... FOR UPDATE / FOR SHARE). From there on, until the connection
goes back to the pool, everything is one transaction, committed or rolled back as before. A
request that only read sends its statements and nothing else, and as no transaction is open
the session's closing ROLLBACK sends nothing either, so psycopg keeps its prepared statements
(it forgets them on every ROLLBACK it sends; with them PostgreSQL skips planning the policy's
queries, 20 to 26 ms a page at 100,000 reflections).

A statement that is a request's whole write, atomic by itself, may ask to run alone
(WHOLE_ALONE): when no transaction is open yet it runs in autocommit, PostgreSQL's own
transaction of one statement, and the request sends neither BEGIN nor COMMIT (a post of a
reflection: its INSERT carries the page token's change, coprod/pagecache.py write_last). After
an earlier write it joins the transaction like any other; a write after it begins one of its
own, so a caller asks only for its last write.

Code that writes through the driver's own connection (a COPY) calls `begin_writing` first:
the events below see only what SQLAlchemy executes.

A pooled connection is pinged when it is handed out only if the server said something while
it rested (its socket is readable: a restart, an ended backend or an idle timeout sends a
goodbye) or if it rested longer than REST_BEFORE_PING; a failed ping replaces the pool's
connections, as SQLAlchemy's pool_pre_ping does on every checkout.
"""

from __future__ import annotations

import re
import select
import time
from functools import lru_cache

from flask import Flask
from sqlalchemy import event, exc

from coprod.extensions import db

REST_BEFORE_PING = 30.0  # seconds a connection may rest in the pool before it is pinged
_RETURNED_AT = "coprod_returned_at"  # pool record info: when the connection came back


def install(app: Flask) -> None:
    """Hand out the app's PostgreSQL connections in autocommit, beginning at the first write."""
    with app.app_context():
        engines = set(db.engines.values())
    for engine in engines:
        if engine.dialect.name != "postgresql":
            continue  # SQLite keeps its transactions and pool_pre_ping (coprod/config.py)
        event.listen(engine, "do_execute", _unprepared_where_asked)
        event.listen(engine, "before_cursor_execute", _begin_before_writing)
        event.listen(engine, "checkout", _hand_out)
        event.listen(engine, "checkin", _note_return)


# A read begins SELECT, or WITH (common table expressions; the search's), after any
# parentheses (a UNION of limited SELECTs). A WITH may hold a data-modifying statement.
_READ = re.compile(r"\s*\(*\s*(SELECT|WITH)\b", re.IGNORECASE)
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b",
                      re.IGNORECASE)


@lru_cache(maxsize=2048)  # compiled statements repeat; each is tested once per process
def only_reads(statement: str) -> bool:
    """Whether a SQL statement reads and writes nothing: a SELECT, or a WITH with no
    INSERT, UPDATE, DELETE or MERGE anywhere in it (a word, not part of a name). Anything
    else counts as a write. Shared with the page cache (coprod/pagecache.py)."""
    head = _READ.match(statement)
    if head is None:
        return False
    return head.group(1).upper() == "SELECT" or _WRITE_WORD.search(statement) is None


@lru_cache(maxsize=2048)
def needs_transaction(statement: str) -> bool:
    """Whether a statement must run inside the transaction: it writes, or it locks rows
    (a lock taken in autocommit would end with its statement)."""
    return not only_reads(statement) or _LOCKING.search(statement) is not None


def begin_writing(driver_connection) -> None:
    """From the next statement on, the connection runs one transaction (psycopg sends BEGIN
    before it), until it goes back to the pool."""
    if driver_connection.autocommit:
        driver_connection.autocommit = False


# A statement's execution option: it is the request's last write and whole by itself, so
# with no transaction open it runs alone, in autocommit (two round trips fewer).
WHOLE_ALONE = {"coprod_whole_alone": True}


def _begin_before_writing(conn, cursor, statement, parameters, context, executemany) -> None:
    """before_cursor_execute: a statement that writes or locks begins the transaction,
    unless it asks to run alone (WHOLE_ALONE)."""
    driver = cursor.connection
    if driver.autocommit and (executemany or needs_transaction(statement)) and not (
            context is not None and context.execution_options.get("coprod_whole_alone")):
        begin_writing(driver)


# -- handing connections out ---------------------------------------------------------------

def _note_return(driver_connection, record) -> None:
    """Pool checkin: the connection rests from now."""
    record.info[_RETURNED_AT] = time.monotonic()


def _hand_out(driver_connection, record, proxy) -> None:
    """Pool checkout: a connection that may have been ended is pinged first; every
    connection starts in autocommit."""
    returned_at = record.info.pop(_RETURNED_AT, None)  # None: connected just now
    if returned_at is not None and (
            time.monotonic() - returned_at > REST_BEFORE_PING or _server_spoke(driver_connection)):
        _ping(driver_connection)
    try:
        driver_connection.autocommit = True  # after the pool's reset no transaction is open
    except Exception as error:  # noqa: BLE001 - a broken connection: the pool replaces it
        raise exc.DisconnectionError(str(error)) from error


def _server_spoke(driver_connection) -> bool:
    """Whether the server sent anything to a connection resting in the pool (nothing is
    due: it is a goodbye, or something that a ping will read)."""
    try:
        readable, _writable, _failed = select.select([driver_connection.fileno()], [], [], 0)
    except Exception:  # noqa: BLE001 - no socket any more
        return True
    return bool(readable)


def _ping(driver_connection) -> None:
    """One round trip; if it fails, the pool replaces every connection it holds (a server
    that ended one has usually ended them all)."""
    try:
        driver_connection.autocommit = True
        driver_connection.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means this connection is gone
        raise exc.InvalidatePoolError(str(error)) from error


# -- statements that ask to be planned each time ------------------------------------------

# A statement's execution option: never prepare it, so PostgreSQL plans it for its values each
# time. For a statement whose best plan depends on its values more than planning costs (the
# search's first count: its generic plan took 23 ms for "driver", a plan for the word 8 ms).
PLAN_EACH_TIME = {"coprod_plan_each_time": True}


def planned_each_time(execution_options) -> bool:
    """Whether a statement's execution options ask for PLAN_EACH_TIME (this module's hook
    and coprod/direct.py, which runs statements past it, both ask)."""
    return bool(execution_options.get("coprod_plan_each_time"))


def _unprepared_where_asked(cursor, statement, parameters, context) -> bool | None:
    """do_execute: execute without preparing when the statement asks (PLAN_EACH_TIME)."""
    if context is None or not planned_each_time(context.execution_options):
        return None
    cursor.execute(statement, parameters, prepare=False)
    return True
