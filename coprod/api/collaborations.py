"""/api/v1/collaborations: the spaces the caller is a member of; start one, change one."""

from __future__ import annotations

from flask.views import MethodView

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404
from coprod.api.pagination import paginate
from coprod.api.schemas import (
    CollaborationCreateSchema,
    CollaborationListArgsSchema,
    CollaborationPageSchema,
    CollaborationSchema,
    CollaborationUpdateSchema,
)
from coprod.spaces import operations
from coprod.spaces.models import Collaboration

blp = ApiBlueprint("collaborations", __name__, url_prefix="/collaborations",
                   description="Collaboration spaces: the caller's, one at a time, new ones.")


def select_my_collaborations(status=None):
    """The caller's collaborations, by title (the policy filters in SQL)."""
    stmt = policy.scoped(policy.current_actor(), Collaboration).order_by(
        Collaboration.title, Collaboration.id)
    if status is not None:
        stmt = stmt.where(Collaboration.status == status)
    return stmt


@blp.route("")
class Collaborations(MethodView):
    @blp.arguments(CollaborationListArgsSchema, location="query")
    @blp.response(200, CollaborationPageSchema)
    def get(self, args):
        """The collaborations the caller is a member of, by title."""
        return paginate(select_my_collaborations(args.get("status")), args)

    @blp.arguments(CollaborationCreateSchema)
    @blp.response(201, CollaborationSchema)
    @blp.fails_with(403, 409)
    def post(self, data):
        """Start a collaboration; the caller becomes its first coordinator. Who may is the
        installation's setting (403 for the others): see the admin area."""
        collaboration = operations.create_collaboration(policy.current_actor(), **data)
        return collaboration


@blp.route("/<int:collaboration_id>")
class CollaborationItem(MethodView):
    @blp.response(200, CollaborationSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int):
        """One collaboration, with the caller's role in it."""
        return collaboration_or_404(collaboration_id)

    @blp.arguments(CollaborationUpdateSchema)
    @blp.response(200, CollaborationSchema)
    @blp.fails_with(403, 404, 409)
    def patch(self, data, collaboration_id: int):
        """Change the given fields; status archived closes the space, active reopens it."""
        collaboration = collaboration_or_404(collaboration_id)
        operations.update_collaboration(policy.current_actor(), collaboration, **data)
        return collaboration
