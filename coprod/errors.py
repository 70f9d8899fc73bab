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
from flask_babel import lazy_gettext as _l
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
    page = render_template("unavailable.html", code=err.code, name=_("Coprod is unavailable"),
                           message=message)
    return page, err.code, headers


# What a person reads for each error, in their language (Werkzeug's names and descriptions are
# English): a title and what to do. The 404 says nothing of whether something exists, as the
# policy answers 404 alike for what does not exist and for what one may not see.
_EXPLAINED = {
    400: (_l("The request was not understood"),
          _l("Something in the request was missing or malformed. Go back, reload the page and "
             "try again.")),
    401: (_l("Log in first"), _l("Please log in to see this page.")),
    403: (_l("Not allowed"),
          _l("Your role in this collaboration does not allow this.")),
    404: (_l("Page not found"),
          _l("There is nothing here that you can see. The link may be mistyped or out of date, "
             "or it leads to something that is not shared with you.")),
    405: (_l("Not possible this way"),
          _l("This address does not take this kind of request. Use the links and buttons of "
             "the page.")),
    409: (_l("Changed meanwhile"),
          _l("This changed while you were working on it. Reload the page and try again.")),
    413: (_l("Too much at once"),
          _l("What you sent is too large. Send less and try again.")),
    429: (_l("Too many requests"),
          _l("You sent too many requests in a short time. Wait a little and try again.")),
    500: (_l("Something went wrong"),
          _l("Something went wrong on our side. Nothing was changed.")),
    503: (_l("Coprod is unavailable"),
          _l("Coprod cannot answer right now. Please try again in a minute.")),
}
_UNEXPLAINED = (_l("This did not work"), _l("This did not work. Go back and try again."))


def explained(exc: HTTPException) -> tuple[str, str]:
    """(title, message) of an HTTP error for a person, in the request's language. A
    description the code gave (abort(403, description=...)) is the message: it is already a
    translation saying more than the default."""
    title, message = _EXPLAINED.get(exc.code, _UNEXPLAINED)
    own = exc.description if exc.description != type(exc).description else None
    if exc.code == 429:  # Flask-Limiter's description is the limit ("5 per 15 minutes")
        own = None
    return str(title), own or str(message)


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def _answer(code: int, name: str, message: str, headers=None, title: str | None = None):
    """The same error as JSON for API clients (`name`: the HTTP status name) or as a page for
    people (`title` in their language), with its headers."""
    from coprod.citizens import audit

    audit.forget_noted()  # an error shows nothing of the content read before it
    headers = [(k, v) for k, v in (headers or []) if k.lower() != "content-type"]
    if wants_json():
        return jsonify({"code": code, "status": name, "message": message}), code, headers
    try:
        page = render_template("error.html", code=code, name=title or name, message=message)
    except Exception as exc:  # the page around the error reads the user, their counts
        if database_unreachable(exc):
            return database_down_answer(exc)
        raise
    return page, code, headers


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return _answer(400, "Bad Request", _(
            "The form expired or was sent from elsewhere. Reload the page and try again."),
            title=_("The form expired"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        if database_unreachable(exc) or g.get(DATABASE_DOWN):
            return database_down_answer(exc)
        headers = exc.get_headers() if exc.code in (401, 405, 429) else None
        title, message = explained(exc)
        return _answer(exc.code or 500, exc.name, message, headers, title=title)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if database_unreachable(exc):
            return database_down_answer(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        err = InternalServerError()
        return _answer(500, err.name, _("Something went wrong on our side. Nothing was changed."),
                       title=_("Something went wrong"))
