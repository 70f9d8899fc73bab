"""What every /api/v1 resource shares: token authentication, JSON errors, objects by URL."""

from __future__ import annotations

import json
from datetime import date, datetime
from http import HTTPStatus

from flask_babel import gettext as _
from flask_smorest import Blueprint
from marshmallow import ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from coprod import inputs, policy
from coprod.api import errors, idempotency
from coprod.api.auth import authenticate
from coprod.spaces.models import Collaboration

PREFIX = "/api/v1"


def _out_of_range(value) -> str | None:
    """Why one loaded value cannot be taken, or None."""
    if isinstance(value, str) and inputs.unstorable(value):
        return _("Text cannot contain NUL characters or lone surrogates.")
    if isinstance(value, int) and not isinstance(value, bool) and not (
            inputs.DB_INT_MIN <= value <= inputs.DB_INT_MAX):
        return _("Use a whole number from %(min)d to %(max)d.",
                 min=inputs.DB_INT_MIN, max=inputs.DB_INT_MAX)
    day = value.date() if isinstance(value, datetime) else value
    if isinstance(day, date) and not inputs.DAY_MIN <= day <= inputs.DAY_MAX:
        return _("Use a day from %(min)s to %(max)s.",
                 min=inputs.DAY_MIN.isoformat(), max=inputs.DAY_MAX.isoformat())
    return None


def _faults(data) -> dict:
    """{field: [message]} (nested like the input) for every value the database cannot take."""
    faults: dict = {}
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(value, dict | list | tuple | set):
            inner = _faults(value)
            if inner:
                faults[key] = inner
        else:
            message = _out_of_range(value) or (
                _out_of_range(key) if isinstance(key, str) else None)
            if message:
                faults[key] = [message]
    return faults


class ApiParser(FlaskParser):
    """webargs' parser with what the database cannot store refused in one place, for every
    route's body and query: text with NUL or a lone surrogate, integers outside PostgreSQL's
    integer, days outside DAY_MIN..DAY_MAX answer 422 naming the field; a JSON body nested
    deeper than JSON_DEPTH_MAX (or too deep for Python's parser) answers 400."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        too_deep = json.JSONDecodeError("nested too deeply", "(the request body)", 0)
        try:
            data = core.parse_json(raw)
        except RecursionError:
            raise too_deep from None
        if inputs.deeper_than(data, inputs.JSON_DEPTH_MAX):
            raise too_deep  # answered 400 "Invalid JSON body." by webargs
        return data

    def _validate_arguments(self, data, validators):
        faults = _faults(data) if isinstance(data, dict | list) else {}
        if faults:
            raise ValidationError(faults)
        super()._validate_arguments(data, validators)


class ApiBlueprint(Blueprint):
    """A resource of the API: every request needs a bearer token and errors answer JSON; each
    write is one unit whose answer is made before its commit, and a POST that creates takes
    an Idempotency-Key (coprod.api.idempotency). Views of writes never commit themselves."""

    ARGUMENTS_PARSER = ApiParser()

    def arguments(self, schema, *, location="json", required=None, **kwargs):
        """The OpenAPI document calls a body required when it is: when its schema has a
        required field (a request without a body then answers 422 naming it). A body of
        optional fields only may be left out, and reads as {} (e.g. withdraw: all of it)."""
        if required is None:
            fields = (schema() if isinstance(schema, type) else schema).fields.values()
            required = location != "json" or any(f.required for f in fields)
        return super().arguments(schema, location=location, required=required, **kwargs)

    def __init__(self, name: str, import_name: str, *, url_prefix: str, **kwargs):
        super().__init__(name, import_name, url_prefix=PREFIX + url_prefix, **kwargs)
        self.before_request(authenticate)
        errors.register(self)

    def response(self, status_code, schema=None, **kwargs):
        document = super().response(status_code, schema, **kwargs)
        return lambda view: document(idempotency.read_as_stored(view))

    def route(self, rule, **options):
        register = super().route(rule, **options)

        def decorator(view):
            for method in idempotency.WRITES:
                func = view.__dict__.get(method)
                if func is not None:
                    setattr(view, method, idempotency.as_unit(
                        func, replayable=method == "post" and idempotency.creates(func)))
            return register(view)

        return decorator

    def fails_with(self, *codes: int):
        """Document the error answers a route may give (their body is ErrorSchema)."""
        def decorator(func):
            for code in codes:
                func = self.alt_response(code, HTTPStatus(code).name)(func)
            return func
        return decorator


def collaboration_or_404(collaboration_id: int, action: str = "read") -> Collaboration:
    """The collaboration in the URL; 404 unless the caller is a member, 403 if read-only."""
    return policy.get_or_404(policy.current_actor(), Collaboration, collaboration_id, action)


def object_in(model: type, collaboration_id: int, object_id: int):
    """An object named in the URL under its collaboration; 404 if unreadable or elsewhere."""
    return policy.get_in_collaboration(policy.current_actor(), model, object_id,
                                       collaboration_id)
