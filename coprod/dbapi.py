"""What Coprod sets of its database driver: psycopg's cursor, its description made when read.

SQLAlchemy asks a cursor for its `description` after every statement, to learn whether rows
came back, and builds a result from it only the first time a statement of that shape runs
(then it keeps the result's columns with the compiled statement). psycopg builds the whole
description at every ask, one Column object per column, each name decoded and its type
looked up: 2 % of posting a reflection, for a list nobody read. DescribedOnRead
answers with a sequence that says at once whether there are columns and how many, and
builds psycopg's own description the first time anyone looks inside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import pq

_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK)


class DescribedOnRead(psycopg.Cursor):
    """psycopg's client-side cursor whose description is built when first read."""

    @property
    def description(self):
        result = self.pgresult
        if not result or not (result.nfields or result.status in _ROWS):
            return None  # as psycopg answers: no rows came back
        return _Description(self, result)


class _Description(Sequence):
    """The cursor's description for `result`: its length known at once, its columns built,
    by psycopg, the first time they are read (while the cursor still holds that result)."""

    __slots__ = ("_cursor", "_result", "_columns")

    def __init__(self, cursor: DescribedOnRead, result):
        self._cursor, self._result, self._columns = cursor, result, None

    def __len__(self) -> int:
        return self._result.nfields

    def __getitem__(self, index):
        return self._built()[index]

    def __iter__(self):
        return iter(self._built())

    def __eq__(self, other) -> bool:
        return list(self._built()) == list(other)

    def __repr__(self) -> str:
        return repr(self._built())

    def _built(self) -> list:
        if self._columns is None:
            if self._cursor.pgresult is not self._result:
                raise psycopg.InterfaceError(
                    "a cursor's description was read after it ran another statement")
            self._columns = psycopg.Cursor.description.fget(self._cursor)
        return self._columns
