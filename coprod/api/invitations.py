"""/api/v1/collaborations/{id}/invitations: invite people by email; withdraw an invitation.

The link in the invitation email is for the invited person only: the API never returns it,
nor anything it is made of.
"""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.accounts import operations
from coprod.accounts.models import Invitation
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import InvitationCreateSchema, InvitationPageSchema, InvitationSchema

blp = ApiBlueprint("invitations", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/invitations",
                   description="Invitations to join a collaboration (coordinators).")


@blp.route("")
class Invitations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, InvitationPageSchema)
    @blp.fails_with(403, 404)
    def get(self, args, collaboration_id: int):
        """The invitations sent, newest first, with their status."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id, "read_invitations")
        stmt = (
            policy.scoped(actor, Invitation)
            .where(Invitation.collaboration_id == collaboration.id)
            .options(selectinload(Invitation.partner), selectinload(Invitation.invited_by))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
        return paginate(stmt, args)

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int):
        """Invite an email address with a role; the invitation is emailed to it."""
        collaboration = collaboration_or_404(collaboration_id)
        invitation = operations.invite(policy.current_actor(), collaboration, **data)
        return invitation


@blp.route("/<int:invitation_id>")
class InvitationItem(MethodView):
    @blp.response(200, InvitationSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, invitation_id: int):
        """One invitation and its status."""
        return object_in(Invitation, collaboration_id, invitation_id)


@blp.route("/<int:invitation_id>/revoke")
class InvitationRevoke(MethodView):
    @blp.response(200, InvitationSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, collaboration_id: int, invitation_id: int):
        """Withdraw a pending invitation: its link stops working."""
        invitation = object_in(Invitation, collaboration_id, invitation_id)
        operations.revoke_invitation(policy.current_actor(), invitation)
        return invitation
