"""GET /api/v1/organizations: the organizations the caller knows through their collaborations."""

from __future__ import annotations

from flask.views import MethodView

from coprod import policy
from coprod.api.common import ApiBlueprint
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import OrganizationPageSchema
from coprod.spaces.models import Organization

blp = ApiBlueprint("organizations", __name__, url_prefix="/organizations",
                   description="Organizations known from the caller's collaborations.")


@blp.route("")
class Organizations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, OrganizationPageSchema)
    def get(self, args):
        """Partners of the caller's collaborations, by name: those they may add as partners."""
        stmt = policy.scoped(policy.current_actor(), Organization).order_by(
            Organization.name, Organization.id)
        return paginate(stmt, args)
