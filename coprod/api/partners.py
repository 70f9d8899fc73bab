"""/api/v1/collaborations/{id}/partners: the organizations in a collaboration, and what each
brings (responsibilities, resources and capabilities)."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy.orm import contains_eager, selectinload

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import (
    PartnerCreateSchema,
    PartnerPageSchema,
    PartnerSchema,
    PartnerUpdateSchema,
)
from coprod.spaces import operations
from coprod.spaces.models import Organization, Partner

blp = ApiBlueprint("partners", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/partners",
                   description="Partner organizations of a collaboration.")


def _as_items(partner: Partner) -> dict[str, list[dict]]:
    """The partner's current lists, in the shape describe_partner takes."""
    return {
        "responsibilities": [{"kind": r.kind, "description": r.description}
                             for r in partner.responsibilities],
        "resources": [{"tangibility": r.tangibility, "description": r.description}
                      for r in partner.resources],
    }


@blp.route("")
class Partners(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PartnerPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """The collaboration's partners, by organization name."""
        collaboration = collaboration_or_404(collaboration_id)
        stmt = (
            policy.scoped(policy.current_actor(), Partner)
            .where(Partner.collaboration_id == collaboration.id)
            .join(Organization, Partner.organization_id == Organization.id)
            .options(contains_eager(Partner.organization),
                     selectinload(Partner.responsibilities), selectinload(Partner.resources))
            .order_by(Organization.name, Partner.id)
        )
        return paginate(stmt, args)

    @blp.arguments(PartnerCreateSchema)
    @blp.response(201, PartnerSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int):
        """Add a known organization (organization_id), or a new one (name and sector)."""
        collaboration = collaboration_or_404(collaboration_id)
        partner = operations.add_partner(policy.current_actor(), collaboration, **data)
        return partner


@blp.route("/<int:partner_id>")
class PartnerItem(MethodView):
    @blp.response(200, PartnerSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, partner_id: int):
        """One partner with its responsibilities and resources."""
        return object_in(Partner, collaboration_id, partner_id)

    @blp.arguments(PartnerUpdateSchema)
    @blp.response(200, PartnerSchema)
    @blp.fails_with(403, 404)
    def patch(self, data, collaboration_id: int, partner_id: int):
        """Replace the responsibilities and/or the resources lists (a list left out stays)."""
        partner = object_in(Partner, collaboration_id, partner_id)
        operations.describe_partner(policy.current_actor(), partner,
                                    **{**_as_items(partner), **data})
        return partner

    @blp.response(204)
    @blp.fails_with(403, 404, 409)
    def delete(self, collaboration_id: int, partner_id: int):
        """Remove the partner; 409 while members act on its behalf."""
        partner = object_in(Partner, collaboration_id, partner_id)
        operations.remove_partner(policy.current_actor(), partner)
