"""The hottest statements run on the driver's cursor, compiled once: the row that finds a
kept page's or a post's reader (a log-in's or an API token's), and a post's INSERT.

SQLAlchemy's Connection.execute() of a statement it has compiled and cached before still
builds, every time, an execution context, a cursor result and its row, and walks its event and
option machinery: measured in process, 170 µs of CPU more than psycopg running the same SQL
with the same values (a 12-column SELECT; 60 µs in psycopg), twice in every post of a
reflection. A `Direct` statement is compiled once per set of parameter names, and run on the
SQLAlchemy connection's own driver connection (the session's: same transaction, same
autocommit state) with:

- the values converted by the processors SQLAlchemy would use (an enum's value, a time in
  UTC), and the statement's own constants from its compiled parameters;
- the connection's before_cursor_execute and after_cursor_execute listeners called as
  SQLAlchemy calls them, with a context holding the statement's execution options: the
  read-only transactions (coprod/readonly.py), the page cache's write marks
  (coprod/pagecache.py) and any statement counter see these statements like any other;
- a driver error raised as SQLAlchemy's (sqlalchemy.exc.DBAPIError and its kinds), the
  connection invalidated when the error says it was lost, as SQLAlchemy does;
- the rows' values converted by the result processors SQLAlchemy would use.

Only for statements whose compiled form needs nothing computed at execution: no Python-side
default to fill in, no expanding IN list, no parameter name to escape (refused when
compiled). One asking to be planned each time (readonly.PLAN_EACH_TIME) is never prepared.
Other dialects (SQLite) run the statement through Connection.execute as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from coprod.readonly import planned_each_time

_Processor = Callable[[object], object]


class _Context:
    """What the listeners are handed as the execution context: the statement's execution
    options (coprod/readonly.py reads them) and the compiled statement."""

    __slots__ = ("execution_options", "compiled")
    executemany = False

    def __init__(self, execution_options: Mapping, compiled):
        self.execution_options, self.compiled = execution_options, compiled


class _Compiled:
    """One statement compiled for one set of parameter names: its SQL, its constants and
    bind processors, its result processors."""

    __slots__ = ("sql", "constants", "binds", "results", "context", "prepare")

    def __init__(self, statement, dialect, names: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if getattr(compiled, "insert_prefetch", None) or getattr(
                compiled, "update_prefetch", None) or compiled.literal_execute_params or \
                compiled.post_compile_params or compiled.escaped_bind_names:
            raise ValueError("a statement needing work at execution cannot run Direct")
        self.sql = compiled.string
        everything = compiled.construct_params(dict.fromkeys(names))  # with the constants
        self.constants = {k: v for k, v in everything.items() if k not in names}
        self.binds = tuple(
            (name, processor) for name, processor in
            ((name, _bind_processor(compiled.binds[name], dialect)) for name in names
             if name in compiled.binds) if processor is not None)
        self.results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns)
        options = statement.get_execution_options()
        self.context = _Context(options, compiled)
        # never prepared, as readonly's do_execute hook runs it (which Direct does not pass)
        self.prepare = False if planned_each_time(options) else None

    def parameters(self, values: Mapping) -> dict:
        """The values as the driver takes them: converted, with the statement's constants."""
        parameters = {**self.constants, **values}
        for name, processor in self.binds:
            parameters[name] = processor(parameters[name])
        return parameters

    def row(self, raw) -> tuple | None:
        """A driver row with each value converted as SQLAlchemy's result would."""
        if raw is None:
            return None
        return tuple(value if processor is None else processor(value)
                     for processor, value in zip(self.results, raw, strict=True))


def _bind_processor(bind, dialect) -> _Processor | None:
    return bind.type.dialect_impl(dialect).bind_processor(dialect)


class Direct:
    """A Core statement (a SELECT, or an INSERT/UPDATE with RETURNING) to run Direct: built
    once (module level or functools.cache), then first() any number of times."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[tuple, _Compiled] = {}
        self._lock = threading.Lock()

    def first(self, connection: Connection, values: Mapping) -> tuple | None:
        """The first row of the statement run with `values` (or None), as a tuple."""
        dialect = connection.dialect
        if dialect.name != "postgresql":
            row = connection.execute(self.statement, dict(values)).first()
            return None if row is None else tuple(row)
        compiled = self._for(dialect, values)
        try:
            parameters = compiled.parameters(values)
        except Exception as error:  # a value its type refuses, raised as SQLAlchemy raises it
            raise exc.StatementError(f"({type(error).__module__}.{type(error).__name__}) "
                                     f"{error}", compiled.sql, dict(values), error) from error
        return compiled.row(_run(connection, compiled, parameters))

    def _for(self, dialect, values: Mapping) -> _Compiled:
        names = tuple(sorted(values))
        found = self._compiled.get(names)
        if found is None:
            with self._lock:
                found = self._compiled.setdefault(names, _Compiled(self.statement, dialect, names))
        return found


def _run(connection: Connection, compiled: _Compiled, parameters: dict):
    """Run on the connection's driver cursor, the listeners called as SQLAlchemy does; the
    first row the driver answers (or None)."""
    sql, context = compiled.sql, compiled.context
    cursor = connection.connection.cursor()
    try:
        dispatch = connection.dispatch
        for listener in dispatch.before_cursor_execute:
            sql, parameters = listener(connection, cursor, sql, parameters, context, False)
        cursor.execute(sql, parameters, prepare=compiled.prepare)
        dispatch.after_cursor_execute(connection, cursor, sql, parameters, context, False)
        return cursor.fetchone() if cursor.description else None
    except connection.dialect.loaded_dbapi.Error as error:
        lost = connection.dialect.is_disconnect(error, connection.connection, cursor)
        if lost:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql, parameters, error, connection.dialect.loaded_dbapi.Error,
            connection_invalidated=lost, dialect=connection.dialect) from error
    finally:
        cursor.close()
