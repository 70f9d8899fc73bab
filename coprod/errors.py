"""Error answers: a page for people, a JSON body for API clients; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from coprod.extensions import db

log = logging.getLogger(__name__)


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
    page = render_template("error.html", code=code, name=name, message=message)
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
        headers = exc.get_headers() if exc.code in (401, 405, 429) else None
        return _answer(exc.code or 500, exc.name, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        err = InternalServerError()
        return _answer(500, err.name, _("Something went wrong on our side. Nothing was changed."))
