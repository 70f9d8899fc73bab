"""/api/v1/collaborations/{id}/charter: the four questions, saved in versions."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.api.common import ApiBlueprint, collaboration_or_404
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import CharterRevisionPageSchema, CharterSchema, CharterUpdateSchema
from coprod.spaces import operations
from coprod.spaces.models import Charter, CharterRevision

blp = ApiBlueprint("charter", __name__, url_prefix="/collaborations/<int:collaboration_id>/charter",
                   description="The collaboration's charter and its change history.")


@blp.route("")
class CharterResource(MethodView):
    @blp.response(200, CharterSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int):
        """The charter as last saved, with its version."""
        return policy.get_or_404(policy.current_actor(), Charter, collaboration_id)

    @blp.arguments(CharterUpdateSchema)
    @blp.response(200, CharterSchema)
    @blp.fails_with(403, 404, 409)
    def put(self, data, collaboration_id: int):
        """Save a new version; 409 if someone saved after base_version (nothing is lost)."""
        charter = policy.get_or_404(policy.current_actor(), Charter, collaboration_id)
        operations.update_charter(policy.current_actor(), charter, **data)
        return charter


@blp.route("/history")
class CharterHistory(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CharterRevisionPageSchema)
    @blp.fails_with(404)
    def get(self, args, collaboration_id: int):
        """Every saved version, newest first: who changed the charter, and when."""
        collaboration = collaboration_or_404(collaboration_id)
        stmt = (
            policy.scoped(policy.current_actor(), CharterRevision)
            .where(CharterRevision.collaboration_id == collaboration.id)
            .options(selectinload(CharterRevision.edited_by))
            .order_by(CharterRevision.version.desc())
        )
        return paginate(stmt, args)
