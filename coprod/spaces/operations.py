"""Writes to collaboration spaces. Each checks the policy, changes the session and flushes;
the request (or CLI command) commits once."""

from __future__ import annotations

import enum

from flask_babel import gettext as _
from sqlalchemy import func, select

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.policy import Actor, installation
from coprod.spaces.models import (
    Charter,
    CharterRevision,
    Collaboration,
    CollaborationStatus,
    Membership,
    Organization,
    Partner,
    Resource,
    Responsibility,
    Sector,
)

COLLABORATION_FIELDS = ("title", "purpose", "remit_kind", "remit", "description",
                        "interdependence", "timezone")


def create_collaboration(actor: Actor, *, title: str, purpose, remit_kind, remit: str,
                         description: str = "", interdependence=None, timezone: str = "UTC",
                         organization: Organization | None = None,
                         organization_id: int | None = None, organization_name: str | None = None,
                         organization_sector=None) -> Collaboration:
    """Start a space; its creator is its first coordinator (for `organization`, if given).

    The creator's organization is given as an object, as one of the organizations they know
    (`organization_id`), or as a new one (`organization_name` and `organization_sector`).
    """
    if actor.user_id is None:
        raise OperationError(_("Log in first."), status=401)
    if not installation.may_create_collaboration(actor):
        raise OperationError(_("Only administrators and the people they choose may start a "
                               "collaboration on this installation. Ask an administrator."),
                             status=403)
    if organization is None and (organization_id is not None or organization_name):
        organization = _organization_for(actor, organization_id, organization_name,
                                         organization_sector)
    collaboration = Collaboration(
        title=title.strip(), purpose=purpose, remit_kind=remit_kind, remit=remit.strip(),
        description=(description or "").strip(), interdependence=interdependence or None,
        timezone=timezone or "UTC",
    )
    collaboration.charter = Charter()
    db.session.add(collaboration)
    db.session.flush()
    partner = None
    if organization is not None:
        partner = Partner(collaboration_id=collaboration.id, organization_id=organization.id)
        db.session.add(partner)
        db.session.flush()
    db.session.add(Membership(collaboration_id=collaboration.id, user_id=actor.user_id,
                              role=Role.COORDINATOR, partner_id=partner.id if partner else None))
    db.session.flush()
    actor.forget()
    return collaboration


def update_collaboration(actor: Actor, collaboration: Collaboration, **fields) -> Collaboration:
    policy.require(actor, "update", collaboration)
    status = fields.pop("status", None)
    if collaboration.is_archived and fields and status != CollaborationStatus.ACTIVE:
        raise OperationError(_("Reopen the collaboration before changing it."), status=409)
    for name, value in fields.items():
        if name not in COLLABORATION_FIELDS:
            raise OperationError(_("Unknown field."), field=name)
        if isinstance(value, str) and not isinstance(value, enum.Enum):  # StrEnums stay
            value = value.strip()
        setattr(collaboration, name, value)
    if status is not None:
        collaboration.status = CollaborationStatus(status)
    db.session.flush()
    return collaboration


# -- partners -------------------------------------------------------------------------------

def _organization_for(actor: Actor, organization_id: int | None, name: str | None,
                      sector) -> Organization:
    """One of the organizations the actor knows, or a new one by name and sector."""
    if organization_id is not None:
        organization = db.session.scalar(
            policy.scoped(actor, Organization).where(Organization.id == organization_id))
        if organization is None:
            raise OperationError(_("Choose an organization you know from your collaborations."),
                                 field="organization_id")
        return organization
    if not (name or "").strip():
        raise OperationError(_("Give the organization's name."), field="name")
    if sector is None:
        raise OperationError(_("Choose the organization's sector."), field="sector")
    organization = Organization(name=name.strip(), sector=Sector(sector))
    db.session.add(organization)
    db.session.flush()
    return organization


def add_partner(actor: Actor, collaboration: Collaboration, *, organization_id: int | None = None,
                name: str | None = None, sector=None) -> Partner:
    """Add a known organization, or a new one by name and sector, as a partner."""
    policy.require(actor, "manage_partners", collaboration)
    organization = _organization_for(actor, organization_id, name, sector)
    taken = db.session.scalar(select(Partner).where(
        Partner.collaboration_id == collaboration.id, Partner.organization_id == organization.id))
    if taken is not None:
        raise OperationError(_("This organization is already a partner."),
                             field="organization_id", status=409)
    partner = Partner(collaboration_id=collaboration.id, organization_id=organization.id)
    db.session.add(partner)
    db.session.flush()
    return partner


def describe_partner(actor: Actor, partner: Partner, *, responsibilities: list[dict],
                     resources: list[dict]) -> Partner:
    """Replace a partner's responsibilities and resources with the lists given."""
    policy.require(actor, "update", partner)
    for i, item in enumerate(responsibilities):
        if not (item.get("description") or "").strip():
            raise OperationError(_("Describe the responsibility."),
                                 field=f"responsibilities-{i}-description")
    for i, item in enumerate(resources):
        if not (item.get("description") or "").strip():
            raise OperationError(_("Describe the resource."), field=f"resources-{i}-description")
    partner.responsibilities = [
        Responsibility(kind=item["kind"], description=item["description"].strip())
        for item in responsibilities
    ]
    partner.resources = [
        Resource(tangibility=item["tangibility"], description=item["description"].strip())
        for item in resources
    ]
    db.session.flush()
    return partner


def _partner_on_record(partner: Partner) -> bool:
    """What was said on behalf of a partner, and consents naming it, outlive its removal."""
    from coprod.citizens.models import ConsentPartner
    from coprod.reflections.models import Reflection, Reply

    return any(db.session.scalar(select(func.count()).select_from(model).where(
        model.partner_id == partner.id)) for model in (ConsentPartner, Reflection, Reply))


def remove_partner(actor: Actor, partner: Partner) -> None:
    policy.require(actor, "delete", partner)
    in_use = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.partner_id == partner.id))
    if in_use:
        raise OperationError(
            _("Members act on behalf of this partner. Change or remove them first."), status=409)
    if _partner_on_record(partner):
        raise OperationError(_("This partner's reflections, replies or citizens' consents are "
                               "on record; it stays a partner of the collaboration."),
                             status=409)
    db.session.delete(partner)
    db.session.flush()


# -- members --------------------------------------------------------------------------------

def _coordinator_count(collaboration_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.collaboration_id == collaboration_id, Membership.role == Role.COORDINATOR))


def change_member(actor: Actor, membership: Membership, *, role, partner_id: int | None = None
                  ) -> Membership:
    policy.require(actor, "update", membership)
    role = Role(role)
    if role == Role.PARTNER_STAFF and partner_id is None:
        raise OperationError(_("Choose the partner organization this person works for."),
                             field="partner_id")
    if partner_id is not None:
        partner = db.session.get(Partner, partner_id)
        if partner is None or partner.collaboration_id != membership.collaboration_id:
            raise OperationError(_("Choose one of this collaboration's partners."),
                                 field="partner_id")
    if (membership.role == Role.COORDINATOR and role != Role.COORDINATOR
            and _coordinator_count(membership.collaboration_id) <= 1):
        raise OperationError(_("A collaboration needs at least one coordinator."), field="role",
                             status=409)
    membership.role = role
    membership.partner_id = partner_id
    db.session.flush()
    return membership


def remove_member(actor: Actor, membership: Membership) -> None:
    """Coordinators remove members and anyone may leave; access ends with the row."""
    policy.require(actor, "delete", membership)
    if membership.role == Role.COORDINATOR and _coordinator_count(
            membership.collaboration_id) <= 1:
        raise OperationError(_("A collaboration needs at least one coordinator."), status=409)
    db.session.delete(membership)
    db.session.flush()
    actor.forget()


# -- charter --------------------------------------------------------------------------------

def update_charter(actor: Actor, charter: Charter, *, why: str, resources: str, assets: str,
                   routines: str, base_version: int | None = None) -> Charter:
    """Save a new version; refuse if someone saved since `base_version` was read."""
    policy.require(actor, "update", charter)
    if base_version is not None and base_version != charter.version:
        raise OperationError(
            _("Someone else saved the charter while you were editing. Your text is kept below; "
              "compare it with the current version and save again."), status=409)
    charter.why, charter.resources = why.strip(), resources.strip()
    charter.assets, charter.routines = assets.strip(), routines.strip()
    charter.version += 1
    charter.updated_at = utcnow()
    charter.updated_by_id = actor.user_id
    db.session.add(CharterRevision(
        collaboration_id=charter.collaboration_id, version=charter.version, why=charter.why,
        resources=charter.resources, assets=charter.assets, routines=charter.routines,
        edited_by_id=actor.user_id, edited_at=charter.updated_at))
    db.session.flush()
    return charter
