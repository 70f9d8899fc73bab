"""/api/v1/tokens: the caller's personal access tokens; create one, revoke one."""

from __future__ import annotations

from dataclasses import dataclass

from flask import g
from flask.views import MethodView

from coprod import policy
from coprod.accounts import operations
from coprod.accounts.models import ApiToken
from coprod.api.common import ApiBlueprint
from coprod.api.idempotency import not_replayable
from coprod.api.pagination import PageArgsSchema, paginate
from coprod.api.schemas import NewTokenSchema, TokenCreateSchema, TokenPageSchema

blp = ApiBlueprint("tokens", __name__, url_prefix="/tokens",
                   description="The caller's personal access tokens.")


@dataclass
class IssuedToken:
    """A token just created, with its secret: the secret exists only in this answer."""

    token: ApiToken
    secret: str

    def __getattr__(self, name: str):
        return getattr(self.token, name)


@blp.route("")
class Tokens(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TokenPageSchema)
    def get(self, args):
        """The caller's tokens, active ones first, newest first (secrets are never shown)."""
        stmt = policy.scoped(policy.current_actor(), ApiToken).order_by(
            ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
        return paginate(stmt, args)

    @not_replayable  # the answer holds the secret, which is never stored
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Create a token; its secret is in this answer and never again."""
        token, secret = operations.create_token(g.api_user, data["name"])
        return IssuedToken(token, secret)


@blp.route("/<int:token_id>")
class TokenItem(MethodView):
    @blp.response(204)
    @blp.fails_with(404)
    def delete(self, token_id: int):
        """Revoke a token: calls made with it answer 401 from now on."""
        token = policy.get_or_404(policy.current_actor(), ApiToken, token_id, "revoke")
        operations.revoke_token(policy.current_actor(), token)
