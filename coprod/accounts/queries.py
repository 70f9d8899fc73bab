"""Reads about people, through the policy."""

from __future__ import annotations

from coprod import policy
from coprod.accounts.models import ApiToken
from coprod.extensions import db
from coprod.policy import Actor


def my_tokens(actor: Actor) -> list[ApiToken]:
    """The actor's personal access tokens, active ones first, newest first."""
    stmt = policy.scoped(actor, ApiToken).order_by(
        ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()
    )
    return list(db.session.scalars(stmt))
