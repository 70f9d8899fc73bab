"""The JSON API under /api/v1, documented by an OpenAPI document generated from its schemas.

Every call carries a personal access token (`Authorization: Bearer cpd_...`); cookies play no
part, so the API needs no CSRF token. The document is served at /api/v1/openapi.json.
"""

from __future__ import annotations

from apispec import BasePlugin
from flask import Flask

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
Unknown fields are refused.

**Pagination.** {pagination}
"""


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
    api.spec.components.security_scheme(SECURITY_SCHEME, {
        "type": "http", "scheme": "bearer", "bearerFormat": "cpd_ personal access token",
        "description": "A personal access token: Authorization: Bearer cpd_...",
    })
    for blueprint in _blueprints():
        csrf.exempt(blueprint)  # no cookies are read, so there is no cross-site request to fear
        api.register_blueprint(blueprint)
