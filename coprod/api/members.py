"""/api/v1/collaborations/{id}/members: who is in a collaboration, with which role."""

from __future__ import annotations

from flask.views import MethodView

from coprod import policy
from coprod.accounts.models import User
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import MemberPageSchema, MemberSchema, MemberUpdateSchema
from coprod.spaces import operations
from coprod.spaces.models import Membership

blp = ApiBlueprint("members", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/members",
                   description="Members of a collaboration and their roles.")


@blp.route("")
class Members(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MemberPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """The members, by role and name."""
        collaboration = collaboration_or_404(collaboration_id)
        stmt = (
            policy.scoped(policy.current_actor(), Membership)
            .where(Membership.collaboration_id == collaboration.id)
            .join(User, Membership.user_id == User.id)
            .order_by(Membership.role, User.display_name, Membership.id)
        )
        return paginate(stmt, args)


@blp.route("/<int:membership_id>")
class MemberItem(MethodView):
    @blp.response(200, MemberSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, membership_id: int):
        """One member."""
        return object_in(Membership, collaboration_id, membership_id)

    @blp.arguments(MemberUpdateSchema)
    @blp.response(200, MemberSchema)
    @blp.fails_with(403, 404, 409)
    def patch(self, data, collaboration_id: int, membership_id: int):
        """Change the member's role and/or the partner they act for (left out: unchanged)."""
        membership = object_in(Membership, collaboration_id, membership_id)
        operations.change_member(
            policy.current_actor(), membership,
            role=data.get("role", membership.role),
            partner_id=data.get("partner_id", membership.partner_id),
        )
        return membership

    @blp.response(204)
    @blp.fails_with(403, 404, 409)
    def delete(self, collaboration_id: int, membership_id: int):
        """Remove the member (coordinators), or leave (one's own membership)."""
        membership = object_in(Membership, collaboration_id, membership_id)
        operations.remove_member(policy.current_actor(), membership)
