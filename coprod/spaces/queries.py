"""Reads of collaboration spaces, every one through the policy's SQL filter."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.accounts.models import Invitation, User
from coprod.extensions import db
from coprod.policy import Actor
from coprod.spaces.models import (
    CharterRevision,
    Collaboration,
    Membership,
    Organization,
    Partner,
)


def my_collaborations(actor: Actor, *, status=None) -> list[Collaboration]:
    stmt = policy.scoped(actor, Collaboration).order_by(Collaboration.title, Collaboration.id)
    if status is not None:
        stmt = stmt.where(Collaboration.status == status)
    return list(db.session.scalars(stmt))


def partners_of(actor: Actor, collaboration: Collaboration, *, details: bool = False
                ) -> list[Partner]:
    """The partners the actor may see, by name. Their responsibilities and resources come
    along only for the pages that show them (`details`): every page of a space asks for the
    partners (filters, audiences), and two more queries each time were for nothing."""
    stmt = (
        policy.scoped(actor, Partner)
        .where(Partner.collaboration_id == collaboration.id)
        .join(Organization, Partner.organization_id == Organization.id)
        .order_by(Organization.name, Partner.id)
    )
    if details:
        stmt = stmt.options(selectinload(Partner.responsibilities),
                            selectinload(Partner.resources))
    return list(db.session.scalars(stmt).unique())


def members_of(actor: Actor, collaboration: Collaboration) -> list[Membership]:
    stmt = (
        policy.scoped(actor, Membership)
        .where(Membership.collaboration_id == collaboration.id)
        .join(User, Membership.user_id == User.id)
        .order_by(Membership.role, User.display_name, Membership.id)
    )
    return list(db.session.scalars(stmt).unique())


def partner_count(actor: Actor, collaboration: Collaboration) -> int:
    return db.session.scalar(select(func.count(Partner.id)).where(
        policy.where(actor, Partner, "read"), Partner.collaboration_id == collaboration.id))


def member_count(actor: Actor, collaboration: Collaboration) -> int:
    return db.session.scalar(select(func.count(Membership.id)).where(
        policy.where(actor, Membership, "read"), Membership.collaboration_id == collaboration.id))


def invitations_of(actor: Actor, collaboration: Collaboration) -> list[Invitation]:
    stmt = (
        policy.scoped(actor, Invitation)
        .where(Invitation.collaboration_id == collaboration.id)
        .options(selectinload(Invitation.partner), selectinload(Invitation.invited_by))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    return list(db.session.scalars(stmt))


def charter_history(actor: Actor, collaboration: Collaboration) -> list[CharterRevision]:
    stmt = (
        policy.scoped(actor, CharterRevision)
        .where(CharterRevision.collaboration_id == collaboration.id)
        .options(selectinload(CharterRevision.edited_by))
        .order_by(CharterRevision.version.desc())
    )
    return list(db.session.scalars(stmt))


def known_organizations(actor: Actor) -> list[Organization]:
    """Organizations the actor may pick as a partner: those of their own collaborations."""
    return list(db.session.scalars(
        policy.scoped(actor, Organization).order_by(Organization.name)))


def membership_of(actor: Actor, collaboration: Collaboration) -> Membership | None:
    return db.session.scalar(select(Membership).where(
        Membership.collaboration_id == collaboration.id, Membership.user_id == actor.user_id))
