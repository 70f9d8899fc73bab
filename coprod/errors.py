"""Error answers: a page for people, a JSON body for API clients; never a stack trace.

While the database cannot be reached every answer is a 503 with Retry-After, whatever failed
first (a view, the log-in cookie's user, an API token, the locale) and wherever (a view, a
hook, another error's page): the answer itself reads nothing from the database. The user is
not known then (current_user is pinned to an anonymous user, the locale is the browser's) and
the page is one of its own, without the header that needs the user.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from coprod.extensions import db, login_manager

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = "coprod_database_down"  # on g: this request's answer may not read the database

# What the driver raises when the server is unreachable, drops the connection or cannot take
# more (connection refused, server closed the connection, pool exhausted, SQLite locked).
_UNREACHABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                sa_exc.TimeoutError)


def database_unreachable(exc: BaseException | None) -> bool:
    """Was this error (or what it was raised from, or the error an InternalServerError
    wraps) the database being out of reach?"""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _UNREACHABLE) or (
                isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated):
            return True
        exc = getattr(exc, "original_exception", None) or exc.__cause__
    return False


def database_down_answer(exc: BaseException):
    """503 with Retry-After, as JSON or as a page, reading nothing from the database."""
    log.error("database unreachable on %s %s: %s", request.method, request.path, exc)
    setattr(g, DATABASE_DOWN, True)
    g._login_user = login_manager.anonymous_user()  # the user cannot be read now
    try:
        db.session.rollback()
    except Exception:  # the connection is gone: the session is discarded at teardown anyway
        log.debug("rollback failed while the database is unreachable", exc_info=True)
    from coprod.citizens import audit

    audit.forget_noted()
    err = ServiceUnavailable()
    message = _("Coprod cannot reach its database right now. Please try again in a minute.")
    headers = [("Retry-After", str(RETRY_AFTER_SECONDS))]
    if wants_json():
        return jsonify({"code": err.code, "status": err.name, "message": message}), \
            err.code, headers
    page = render_template("unavailable.html", code=err.code, name=err.name, message=message)
    return page, err.code, headers


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def _answer(code: int, name: str, message: str, headers=None):
    """The same error as JSON for API clients or as a page for people, with its headers."""
    from coprod.citizens import audit

    audit.forget_noted()  # an error shows nothing of the content read before it
    headers = [(k, v) for k, v in (headers or []) if k.lower() != "content-type"]
    if wants_json():
        return jsonify({"code": code, "status": name, "message": message}), code, headers
    try:
        page = render_template("error.html", code=code, name=name, message=message)
    except Exception as exc:  # the page around the error reads the user, their counts
        if database_unreachable(exc):
            return database_down_answer(exc)
        raise
    return page, code, headers


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _answer(400, "Bad Request", _(
            "The form expired or was sent from elsewhere. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        if database_unreachable(exc) or g.get(DATABASE_DOWN):
            return database_down_answer(exc)
        headers = exc.get_headers() if exc.code in (401, 405, 429) else None
        return _answer(exc.code or 500, exc.name, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if database_unreachable(exc):
            return database_down_answer(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        err = InternalServerError()
        return _answer(500, err.name, _("Something went wrong on our side. Nothing was changed."))
