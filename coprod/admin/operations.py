"""Writes of the admin area: accounts and installation settings. Each checks that the actor
administers the installation, changes the session and flushes; the request commits."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select, update

from coprod.accounts import sessions
from coprod.accounts.models import ApiToken, User
from coprod.admin.models import CollaborationCreators, InstallationSettings
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.policy import Actor
from coprod.policy.installation import installation_settings, require_administrator


def deactivate(actor: Actor, user: User) -> None:
    """A leaver: they cannot log in, and their log-ins and API tokens end now (their next
    request is logged out, their next API call 401). Their content and memberships stay."""
    require_administrator(actor)
    if user.id == actor.user_id:
        raise OperationError(_("You cannot deactivate your own account."), status=409)
    user.is_active = False
    sessions.end_sessions(user)
    db.session.execute(update(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
    db.session.flush()


def reactivate(actor: Actor, user: User) -> None:
    """The account may log in again (with its password; its old tokens stay revoked)."""
    require_administrator(actor)
    user.is_active = True
    db.session.flush()


def end_session_of(actor: Actor, user: User, session_id: int) -> bool:
    """End one log-in of any account (a lost device reported to the administrator)."""
    require_administrator(actor)
    return sessions.end_session(user, session_id)


def end_sessions_of(actor: Actor, user: User) -> int:
    require_administrator(actor)
    return sessions.end_sessions(user)


def set_administrator(user: User, is_admin: bool) -> None:
    """Make or unmake an installation administrator: the CLI's (`coprod users admin`), run
    by whoever runs the server, so there is no acting user to check."""
    user.is_admin = is_admin
    db.session.flush()


def update_collaboration_creators(actor: Actor, mode, organization_ids) -> InstallationSettings:
    """Who may start a collaboration: a mode, and for "organizations" the organizations."""
    from coprod.spaces.models import Organization

    require_administrator(actor)
    mode = CollaborationCreators(mode)
    ids = sorted(set(organization_ids or ()))
    organizations = list(db.session.scalars(
        select(Organization).where(Organization.id.in_(ids)))) if ids else []
    if len(organizations) != len(ids):
        raise OperationError(_("Choose organizations from the list."), field="organizations")
    if mode == CollaborationCreators.ORGANIZATIONS and not organizations:
        raise OperationError(_("Choose at least one organization."), field="organizations")
    settings = installation_settings()
    if settings is None:
        settings = InstallationSettings(id=InstallationSettings.ROW_ID)
        db.session.add(settings)
    settings.collaboration_creators = mode
    settings.creator_organizations = organizations
    settings.updated_at = utcnow()
    settings.updated_by_id = actor.user_id
    db.session.flush()
    actor.forget()
    return settings
