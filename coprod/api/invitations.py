"""/api/v1/collaborations/{id}/invitations: invite people by email; withdraw an invitation.

The link in the invitation email is for the invited person only: the API never returns it,
nor anything it is made of.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import abort
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.accounts import bulk, operations
from coprod.accounts.models import Invitation
from coprod.api.common import ApiBlueprint, collaboration_or_404, object_in
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import (
    BulkInvitationArgsSchema,
    BulkInvitationResultSchema,
    BulkInvitationRowsSchema,
    InvitationCreateSchema,
    InvitationPageSchema,
    InvitationSchema,
)

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


BULK_BODY = {
    "required": True,
    "description": "The people to invite: a CSV (one person per line: email, name, partner, "
                   "role; a header line naming the columns is optional; commas, semicolons or "
                   "tabs) or JSON rows. At most BULK_INVITATION_MAX_ROWS rows (500 by default; "
                   "rows beyond are reported as too_many_rows) and BULK_INVITATION_MAX_KIB "
                   "KiB (256 by default; 413 beyond).",
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": BulkInvitationRowsSchema},
    },
}


DRY_RUN_PARAMETER = {
    "in": "query", "name": "dry_run", "required": False, "schema": {"type": "boolean"},
    "description": "Check the rows and answer the preview (200); send nothing.",
}


def _bulk_rows() -> list[dict]:
    """The rows of the request body, CSV or JSON; 400/413/422 when it cannot be read."""
    data = request.get_data(cache=True)
    if len(data) > bulk.max_bytes():
        abort(413, message=_("The request body is larger than %(kib)d KiB. Send fewer rows "
                             "at a time.", kib=bulk.max_bytes() // 1024))
    if request.mimetype == "text/csv":
        try:
            return bulk.read_csv(data)
        except bulk.UploadError as err:
            abort(err.status, message=str(err.message))
    if not request.is_json:
        abort(415, message=_("Send the rows as CSV (Content-Type: text/csv) or as JSON "
                             "{\"rows\": [...]}."))
    body = request.get_json(silent=True)
    if body is None:
        abort(400, message=_("Invalid JSON body."))
    try:
        loaded = BulkInvitationRowsSchema().load(body)
    except ValidationError as err:
        abort(422, errors={"json": err.messages})
    return [{"line": index + 1, **row} for index, row in enumerate(loaded["rows"])]


def _result(rows: list[bulk.Row], dry_run: bool) -> dict:
    valid = bulk.count_valid(rows)
    return {"dry_run": dry_run, "valid": valid, "invalid": len(rows) - valid,
            "sent": sum(1 for row in rows if row.invitation_id), "rows": rows}


@blp.route("/bulk")
class BulkInvitations(MethodView):
    @blp.arguments(BulkInvitationArgsSchema, location="query")
    # Named by hand: the Idempotency-Key's manual parameter list would hide the generated one.
    @blp.doc(requestBody=BULK_BODY, parameters=[DRY_RUN_PARAMETER])
    @blp.response(201, BulkInvitationResultSchema)
    @blp.alt_response(200, schema=BulkInvitationResultSchema,
                      description="The preview of a dry run: nothing was sent.")
    @blp.fails_with(400, 403, 404, 413, 415, 422)
    def post(self, args, collaboration_id: int):
        """Invite many at once: each valid row gets an invitation email; each row comes
        back with its problems (bad_email, unknown_partner, unknown_role, partner_required,
        duplicate, already_member, too_many_rows, ...). With dry_run=true nothing is sent
        and the answer (200) is the preview."""
        actor = policy.current_actor()
        collaboration = collaboration_or_404(collaboration_id, "invite")
        raw_rows = _bulk_rows()
        if args["dry_run"]:
            return _result(bulk.check_rows(collaboration, raw_rows), True), 200
        return _result(bulk.send_rows(actor, collaboration, raw_rows), False)
