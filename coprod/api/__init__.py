"""The JSON API under /api/v1, documented by an OpenAPI document generated from its schemas.

Every call carries a personal access token (`Authorization: Bearer cpd_...`); cookies play no
part, so the API needs no CSRF token. The document is served at /api/v1/openapi.json.
"""

from __future__ import annotations

from apispec import BasePlugin
from flask import Flask
from marshmallow import fields

from coprod.extensions import api, csrf

SECURITY_SCHEME = "bearerAuth"

DESCRIPTION = """\
The data of Coprod's collaboration spaces, for scripts and other services.

**Authentication.** Create a personal access token in your profile (or with
`coprod tokens create EMAIL`, or POST /api/v1/tokens) and send it with every call as
`Authorization: Bearer cpd_...`. Without a valid token a call answers 401. A call acts as
the token's owner and sees what they see: objects of a collaboration they are not in answer
404, objects they may read but not change answer 403.

**Errors** answer JSON: `{"code", "status", "message"}`, plus `field` when one field is at
fault and `errors` (per location and field) when the request did not validate (422).
Unknown fields are refused; a body is required where its schema has required fields (the
document says which). Text never holds NUL characters or lone surrogates, integers lie within
-2147483648..2147483647 and days within 1900-01-01..2999-12-31 (422 otherwise); an id beyond
that range in a path answers 404, a JSON body nested deeper than 32 levels 400, and a request
body over 1 MiB 413.

**Retries.** While the database is unreachable a call answers 503 with `Retry-After`. A POST
that creates something takes an optional `Idempotency-Key` header: a retry with the same key
and the same request within 24 hours answers the first answer again (`Idempotent-Replayed:
true`) instead of creating twice; the same key with another request answers 422.

**Pagination.** {pagination}
"""


def stored_ranges(converter, field, ret, **kwargs) -> dict:
    """What coprod.api.common's parser enforces on every field, stated in the document:
    integers within PostgreSQL's integer (unless the field says narrower), days from
    DAY_MIN to DAY_MAX (a pattern on the year)."""
    from coprod import inputs

    if isinstance(field, fields.Integer):
        return {"minimum": ret.get("minimum", inputs.DB_INT_MIN),
                "maximum": ret.get("maximum", inputs.DB_INT_MAX)}
    if isinstance(field, fields.Date) and not isinstance(field, fields.DateTime):
        assert (inputs.DAY_MIN.year, inputs.DAY_MAX.year) == (1900, 2999)
        return {"pattern": ret.get("pattern", r"^(19\d\d|2\d\d\d)-")}
    return {}


class BearerSecurityPlugin(BasePlugin):
    """Marks every operation as needing the bearer token, with its 401 answer."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            operation.setdefault("security", [{SECURITY_SCHEME: []}])
            operation.setdefault("responses", {}).setdefault("401", "UNAUTHORIZED")


def _blueprints():
    """Every resource of /api/v1, in the order the OpenAPI document lists them."""
    from coprod.api import (
        actions,
        charter,
        citizens,
        collaborations,
        digests,
        invitations,
        me,
        members,
        messages,
        notifications,
        organizations,
        partners,
        reflections,
        routines,
        search,
        servicemap,
        tokens,
    )

    return [me.blp, notifications.blp, citizens.my_blp, collaborations.blp, charter.blp,
            partners.blp, servicemap.blp, citizens.blp, members.blp, reflections.blp, actions.blp,
            invitations.blp, messages.blp, routines.blp, digests.blp, organizations.blp,
            tokens.blp, search.blp]


def init_api(app: Flask) -> None:
    """Bind the API to the app: its resources, their JSON errors and the OpenAPI document."""
    from coprod.api.errors import ErrorSchema
    from coprod.api.pagination import PAGINATION_DOC

    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app, spec_kwargs={
        "extra_plugins": [BearerSecurityPlugin()],
        "info": {"description": DESCRIPTION.replace("{pagination}", PAGINATION_DOC)},
        "security": [{SECURITY_SCHEME: []}],
    })
    api.ma_plugin.converter.add_attribute_function(stored_ranges)
    api.spec.components.security_scheme(SECURITY_SCHEME, {
        "type": "http", "scheme": "bearer", "bearerFormat": "cpd_ personal access token",
        "description": "A personal access token: Authorization: Bearer cpd_...",
    })
    for blueprint in _blueprints():
        csrf.exempt(blueprint)  # no cookies are read, so there is no cross-site request to fear
        api.register_blueprint(blueprint)
    from coprod.api.docs import bp as reference

    app.register_blueprint(reference)  # /api/v1/docs: the document rendered by Swagger UI
