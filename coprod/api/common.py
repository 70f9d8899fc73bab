"""What every /api/v1 resource shares: token authentication, JSON errors, objects by URL."""

from __future__ import annotations

from http import HTTPStatus

from flask_smorest import Blueprint

from coprod import policy
from coprod.api import errors
from coprod.api.auth import authenticate
from coprod.spaces.models import Collaboration

PREFIX = "/api/v1"


class ApiBlueprint(Blueprint):
    """A resource of the API: every request needs a bearer token and errors answer JSON."""

    def __init__(self, name: str, import_name: str, *, url_prefix: str, **kwargs):
        super().__init__(name, import_name, url_prefix=PREFIX + url_prefix, **kwargs)
        self.before_request(authenticate)
        errors.register(self)

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
