"""JSON error bodies for /api/v1: a status, a clear message, the fields at fault; no trace."""

from __future__ import annotations

from http import HTTPStatus

from flask import g, jsonify
from flask_babel import gettext as _
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from coprod.common import OperationError
from coprod.errors import explained
from coprod.extensions import db


class ErrorSchema(Schema):
    """The body of every error answer (documentation only; the handlers build it)."""

    code = fields.Integer(metadata={"description": "HTTP status code."})
    status = fields.String(metadata={"description": "HTTP status name."})
    message = fields.String(metadata={"description": "What went wrong, for a person to read."})
    field = fields.String(allow_none=True,
                          metadata={"description": "The request field at fault, if one is."})
    errors = fields.Dict(metadata={
        "description": "Validation messages per location (json, query) and field."})
    lacking_partner_ids = fields.List(fields.Integer(), metadata={
        "description": "When content about a citizen is refused for its audience (field "
                       "audience): the partner organizations that would read it but lack a "
                       "need to know or a consent. Narrow the audience to the others."})


def _fields_at_fault(errors: dict) -> list[str]:
    """The top-level field names under each location (json, query)."""
    names: list[str] = []
    for location_errors in errors.values():
        if isinstance(location_errors, dict):
            names.extend(str(name) for name in location_errors)
    return names


def _summary(errors) -> str | None:
    """One sentence naming what is wrong in a webargs/marshmallow error mapping."""
    if not isinstance(errors, dict):
        return None
    names = sorted(_fields_at_fault(errors))
    if names:
        return _("Some fields are not valid: %(names)s.", names=", ".join(names))
    messages = [str(m) for value in errors.values() if isinstance(value, list) for m in value]
    return " ".join(messages) or None


def _json(body: dict, code: int, headers=None):
    """A JSON answer keeping the exception's headers (WWW-Authenticate, Allow)."""
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_http_exception(exc: HTTPException):
    """401/403/404/409/422 and the rest: nothing of a failed call is kept."""
    from coprod import errors

    if errors.database_unreachable(exc) or g.get(errors.DATABASE_DOWN):
        return errors.database_down_answer(exc)  # e.g. an error answer's own query failed
    db.session.rollback()
    data = getattr(exc, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    code = exc.code or 500
    body = {
        "code": code,
        "status": exc.name,
        "message": data.get("message") or _summary(errors) or explained(exc)[1],
    }
    if errors:
        body["errors"] = errors
    headers = dict(exc.get_headers())
    headers.update(data.get("headers") or {})
    return _json(body, code, headers)


def handle_operation_error(err: OperationError):
    """A change the operation refused: its message, its status and the field to fix."""
    db.session.rollback()
    body = {
        "code": err.status,
        "status": HTTPStatus(err.status).phrase,
        "message": str(err.message),
        "field": err.field,
    }
    lacking = getattr(err, "lacking", None)  # set by coprod.citizens.operations
    if lacking is not None:
        body["lacking_partner_ids"] = list(lacking)
    return _json(body, err.status)


def register(blueprint) -> None:
    """Bind the handlers to one API blueprint; the rest of the site keeps coprod.errors."""
    blueprint.register_error_handler(HTTPException, handle_http_exception)
    blueprint.register_error_handler(OperationError, handle_operation_error)
