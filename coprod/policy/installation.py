"""Rules of the installation as a whole, above any collaboration: who administers it, and
who may start a collaboration (a setting administrators change in /admin).

Not rows of the rules table: they concern no object of a collaboration, so there is no list
to filter; each is one answer per actor, worked out once per request (actor.memo).
"""

from __future__ import annotations

from sqlalchemy import exists, select
from werkzeug.exceptions import NotFound

from coprod.accounts.models import Role, User
from coprod.extensions import db
from coprod.policy.actors import Actor

# Those who use the service, not those who deliver it: they do not start collaborations
# unless they also hold another role somewhere (setting "staff").
SERVICE_USERS = frozenset({Role.CITIZEN, Role.GUARDIAN})
# Who speaks for an organization in a collaboration (setting "organizations").
ORGANIZATION_ROLES = (Role.COORDINATOR, Role.PARTNER_STAFF)


def is_administrator(actor: Actor) -> bool:
    """An active account flagged as an installation administrator (or the CLI, whose actor
    is made one: whoever runs the server administers it)."""
    if "is_administrator" not in actor.memo:
        actor.memo["is_administrator"] = actor.user_id is not None and bool(
            db.session.scalar(select(exists().where(
                User.id == actor.user_id, User.is_admin.is_(True), User.is_active.is_(True)))))
    return actor.memo["is_administrator"]


def knows_administrator(actor: Actor, user: User) -> None:
    """The request's own user row is loaded (the session's or the token's): is_administrator
    reads the answer from it instead of asking the database again."""
    actor.memo["is_administrator"] = bool(user.is_admin and user.is_active)


def require_administrator(actor: Actor) -> None:
    """Administrators only; everyone else gets 404, as if the admin area did not exist."""
    if not is_administrator(actor):
        raise NotFound()


def installation_settings():
    """The settings row, or None while every setting has its default."""
    from coprod.admin.models import InstallationSettings

    return db.session.get(InstallationSettings, InstallationSettings.ROW_ID)


def may_create_collaboration(actor: Actor) -> bool:
    """May this actor start a collaboration? Administrators always; the system (the CLI's
    demo) too; others as the setting says (coprod.admin.models.CollaborationCreators)."""
    if actor.is_system:
        return True
    if actor.user_id is None:
        return False
    if "may_create_collaboration" not in actor.memo:
        actor.memo["may_create_collaboration"] = (
            is_administrator(actor) or _creators_allow(actor))
    return actor.memo["may_create_collaboration"]


def _creators_allow(actor: Actor) -> bool:
    from coprod.admin.models import CollaborationCreators, creator_organizations
    from coprod.spaces.models import Membership, Partner

    settings = installation_settings()
    mode = settings.collaboration_creators if settings else CollaborationCreators.STAFF
    if mode == CollaborationCreators.ADMINISTRATORS:
        return False
    if mode == CollaborationCreators.STAFF:
        roles = {seat.role for seat in actor.seats().values()}
        return not roles or bool(roles - SERVICE_USERS)
    return bool(db.session.scalar(select(exists().where(
        Membership.user_id == actor.user_id,
        Membership.role.in_(ORGANIZATION_ROLES),
        Partner.id == Membership.partner_id,
        Partner.organization_id == creator_organizations.c.organization_id,
        creator_organizations.c.settings_id == settings.id,
    ))))
