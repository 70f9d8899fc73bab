"""What no request may carry, checked once for the whole site and API instead of in each view.

PostgreSQL cannot store a NUL character or a lone UTF-16 surrogate, its ids are 32-bit
integers, and OFFSET is a 64-bit integer: input beyond these used to reach the database and
answer 500. Here, before any view runs:

- an id in a URL (`<int:...>`) above the database's integer range matches no route: 404;
- text with NUL or a lone surrogate in a page's query string or form: 400 (the API's own
  parser, coprod.api.common, answers 422 naming the field, and also bounds integers, days and
  the nesting of JSON bodies);
- a request body larger than MAX_CONTENT_LENGTH: 413 (coprod.config).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from coprod.common import OperationError

DB_INT_MIN = -(2**31)
DB_INT_MAX = 2**31 - 1  # PostgreSQL's integer: every id, count and number Coprod stores
PAGE_MAX = 1_000_000  # (PAGE_MAX - 1) * any page size stays far inside OFFSET's bigint
DAY_MIN = date(1900, 1, 1)  # the days the API takes (Python's date ends in 9999, so a day
DAY_MAX = date(2999, 12, 31)  # plus one, or midnight in another zone, used to overflow)
# A day someone plans with (a leave's last day, an action's due date) lies within a few
# years of today; beyond, it is a typing slip (20266 for 2026) or a probe, never a plan.
PLANNED_DAYS = timedelta(days=5 * 366)
JSON_DEPTH_MAX = 32  # no request body of the API nests deeper than a handful of levels

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` in every route: a number above the database's integer range is no id of
    anything, so the URL matches nothing (404) instead of failing in the database. The
    OpenAPI document states the maximum (flask-smorest reads it from the converter)."""

    def __init__(self, map, fixed_digits=0, min=None, max=DB_INT_MAX, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def database_id(value) -> int:
    """A posted id (a form's value, a JSON number) as an int the database can hold; ValueError
    for anything else, so that every field and operation refuses it as a wrong choice instead
    of sending it to the database (where an id of 2**31 fails the query: a 500)."""
    number = int(value)
    if not DB_INT_MIN <= number <= DB_INT_MAX:
        raise ValueError(f"{value!r} is outside the database's integers")
    return number


def database_ids(values) -> set[int]:
    """database_id() of each of several posted ids."""
    return {database_id(v) for v in values or ()}


def planned_day(day: date, today: date, field: str) -> date:
    """A day someone plans with, refused (OperationError naming `field`) unless it is within
    PLANNED_DAYS of `today`: one bound for every such day of the pages and the API."""
    earliest, latest = today - PLANNED_DAYS, today + PLANNED_DAYS
    if not earliest <= day <= latest:
        raise OperationError(_("Use a day from %(min)s to %(max)s.", min=earliest.isoformat(),
                               max=latest.isoformat()), field=field)
    return day


def unstorable(text: str) -> bool:
    """Does this text hold a NUL character or a lone surrogate (which no database stores)?"""
    return bool(_UNSTORABLE.search(text))


def deeper_than(value, limit: int) -> bool:
    """Does this parsed JSON nest deeper than `limit` levels? (No recursion: the value may be
    as deep as the parser allowed.)"""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def page_number(name: str = "page") -> int:
    """?page= of a page that lists things (1 if missing); beyond PAGE_MAX there is nothing
    (404), where its OFFSET would overflow the database's integer."""
    page = request.args.get(name, 1, type=int)
    if page > PAGE_MAX:
        abort(404)
    return page


# The bodies Werkzeug parses into request.form; any other body leaves it empty.
FORM_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_unstorable_text() -> None:
    """400 for a request whose query or form holds text the database cannot store. A
    request without a form body (every GET) is not asked for its form: Werkzeug would build
    an empty one, a sixtieth of a page answered from the page cache."""
    if request.path.startswith("/api/"):
        return  # the API's parser answers 422 naming the field (coprod.api.common)
    sources = (request.args, request.form) if request.mimetype in FORM_BODIES else (
        request.args,)
    for values in sources:
        for key, value in values.items(multi=True):
            if unstorable(key) or unstorable(value):
                abort(400, description=_(
                    "The request contains characters that cannot be stored (such as NUL). "
                    "Remove them and try again."))


def register(app: Flask) -> None:
    """Before the routes are added: bounded ids; before each request: storable text."""
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request(_refuse_unstorable_text)
