"""GET /api/v1/me: whose token this is."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from coprod.api.common import ApiBlueprint
from coprod.api.schemas import MeSchema

blp = ApiBlueprint("me", __name__, url_prefix="/me",
                   description="The user the access token belongs to.")


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """The token's user: name, email, language and time zone."""
        return g.api_user
