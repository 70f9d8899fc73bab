"""Writes to the service map: activities (with performers and order), categories and flows.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError naming the field at fault.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import func, select

from coprod import policy
from coprod.common import OperationError
from coprod.extensions import db
from coprod.inputs import database_ids
from coprod.policy import Actor
from coprod.servicemap.models import (
    CATEGORY_NAME_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    Activity,
    InformationCategory,
    InformationFlow,
    InformationFlowCategory,
)
from coprod.spaces.models import Collaboration, Partner

UP, DOWN = "up", "down"


# -- validation -----------------------------------------------------------------------------

def clean_name(name: str | None, limit: int = NAME_MAX) -> str:
    """A one-line name: something, and not more than `limit` characters."""
    text = " ".join((name or "").split())
    if not text:
        raise OperationError(_("Give it a name."), field="name")
    if len(text) > limit:
        raise OperationError(_("Keep the name under %(n)d characters.", n=limit), field="name")
    return text


def clean_description(description: str | None) -> str:
    """An optional description of reasonable length."""
    text = (description or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise OperationError(_("Keep the description under %(n)d characters.",
                               n=DESCRIPTION_MAX), field="description")
    return text


def _ids(values: Iterable | None, field: str, message: str) -> set[int]:
    """Ids as posted (a form, a JSON list); anything that is not a number is refused."""
    try:
        return database_ids(values)
    except (TypeError, ValueError):
        raise OperationError(message, field=field) from None


def _partners(collaboration_id: int, values, field: str) -> list[Partner]:
    """The partners named, every one of them a partner of this collaboration, or a refusal."""
    message = _("Choose partners of this collaboration.")
    ids = _ids(values, field, message)
    if not ids:
        return []
    found = list(db.session.scalars(select(Partner).where(
        Partner.collaboration_id == collaboration_id, Partner.id.in_(ids)).order_by(Partner.id)))
    if len(found) != len(ids):
        raise OperationError(message, field=field)
    return found


def _partner(collaboration_id: int, value, field: str) -> Partner:
    """Exactly one partner of this collaboration."""
    if value in (None, ""):
        raise OperationError(_("Choose a partner."), field=field)
    found = _partners(collaboration_id, [value], field)
    return found[0]


def _categories(collaboration_id: int, values) -> list[InformationCategory]:
    """At least one of this collaboration's information categories."""
    message = _("Choose the categories of information of this collaboration.")
    ids = _ids(values, "categories", message)
    if not ids:
        raise OperationError(_("Choose at least one category of information."),
                             field="categories")
    found = list(db.session.scalars(select(InformationCategory).where(
        InformationCategory.collaboration_id == collaboration_id,
        InformationCategory.id.in_(ids))))
    if len(found) != len(ids):
        raise OperationError(message, field="categories")
    return found


def _siblings(collaboration_id: int) -> list[Activity]:
    """The collaboration's activities in their order (for renumbering)."""
    return list(db.session.scalars(select(Activity).where(
        Activity.collaboration_id == collaboration_id).order_by(Activity.position, Activity.id)))


def _renumber(activities: list[Activity]) -> None:
    """Positions 1..n in the order given, so the order never has gaps or ties."""
    for position, activity in enumerate(activities, start=1):
        activity.position = position


# -- activities -----------------------------------------------------------------------------

def create_activity(actor: Actor, collaboration: Collaboration, *, name: str,
                    description: str = "", co_produced: bool = False,
                    performer_ids: Iterable = ()) -> Activity:
    """Add an activity at the end of the service, performed by the partners named."""
    policy.require(actor, "edit_service_map", collaboration)
    name = clean_name(name)
    description = clean_description(description)
    performers = _partners(collaboration.id, performer_ids, "performers")
    last = db.session.scalar(select(func.max(Activity.position)).where(
        Activity.collaboration_id == collaboration.id)) or 0
    activity = Activity(collaboration_id=collaboration.id, position=last + 1, name=name,
                        description=description, co_produced=bool(co_produced),
                        performers=performers)
    db.session.add(activity)
    db.session.flush()
    return activity


def update_activity(actor: Actor, activity: Activity, *, name: str, description: str = "",
                    co_produced: bool = False, performer_ids: Iterable = ()) -> Activity:
    """Rename, describe, mark as co-produced and set who performs an activity."""
    policy.require(actor, "update", activity)
    activity.name = clean_name(name)
    activity.description = clean_description(description)
    activity.co_produced = bool(co_produced)
    activity.performers = _partners(activity.collaboration_id, performer_ids, "performers")
    db.session.flush()
    return activity


def delete_activity(actor: Actor, activity: Activity) -> None:
    """Remove an activity with its flows; the ones after it move up."""
    policy.require(actor, "delete", activity)
    collaboration_id = activity.collaboration_id
    db.session.delete(activity)
    db.session.flush()
    _renumber(_siblings(collaboration_id))
    db.session.flush()


def move_activity(actor: Actor, activity: Activity, direction: str) -> Activity:
    """Swap an activity with the one before ("up") or after ("down"); at an end, nothing."""
    policy.require(actor, "update", activity)
    if direction not in (UP, DOWN):
        raise OperationError(_("Move an activity up or down."), field="direction")
    order = _siblings(activity.collaboration_id)
    index = order.index(activity)
    other = index - 1 if direction == UP else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    _renumber(order)
    db.session.flush()
    return activity


# -- categories -----------------------------------------------------------------------------

def _name_taken(collaboration_id: int, name: str, but: int | None = None) -> bool:
    """Whether another category here already has this name (ignoring case)."""
    query = select(InformationCategory.id).where(
        InformationCategory.collaboration_id == collaboration_id,
        func.lower(InformationCategory.name) == name.lower())
    if but is not None:
        query = query.where(InformationCategory.id != but)
    return db.session.scalar(query) is not None


def create_category(actor: Actor, collaboration: Collaboration, *, name: str,
                    description: str = "") -> InformationCategory:
    """Add a category of information the partners exchange."""
    policy.require(actor, "edit_service_map", collaboration)
    name = clean_name(name, CATEGORY_NAME_MAX)
    if _name_taken(collaboration.id, name):
        raise OperationError(_("There is already a category with this name."), field="name",
                             status=409)
    category = InformationCategory(collaboration_id=collaboration.id, name=name,
                                   description=clean_description(description))
    db.session.add(category)
    db.session.flush()
    return category


def update_category(actor: Actor, category: InformationCategory, *, name: str,
                    description: str = "") -> InformationCategory:
    """Rename or describe a category; flows that carry it keep it."""
    policy.require(actor, "update", category)
    name = clean_name(name, CATEGORY_NAME_MAX)
    if _name_taken(category.collaboration_id, name, but=category.id):
        raise OperationError(_("There is already a category with this name."), field="name",
                             status=409)
    category.name = name
    category.description = clean_description(description)
    db.session.flush()
    return category


def delete_category(actor: Actor, category: InformationCategory) -> None:
    """Remove a category; refused while a flow still carries it (remove those flows first)."""
    policy.require(actor, "delete", category)
    in_use = db.session.scalar(select(func.count()).select_from(InformationFlowCategory).where(
        InformationFlowCategory.category_id == category.id))
    if in_use:
        raise OperationError(_("Information flows carry this category. Remove them first."),
                             status=409)
    if _named_by_consent_or_content(category):
        raise OperationError(_("Citizens' consents or notes about citizens name this category; "
                               "it stays as part of their record."), status=409)
    db.session.delete(category)
    db.session.flush()


def _named_by_consent_or_content(category: InformationCategory) -> bool:
    """Consents are never edited, so a category they name is never removed from under them."""
    from coprod.citizens.models import CitizenReferenceCategory, ConsentCategory

    return any(db.session.scalar(select(func.count()).select_from(model).where(
        model.category_id == category.id)) for model in (ConsentCategory,
                                                         CitizenReferenceCategory))


# -- flows ----------------------------------------------------------------------------------

def create_flow(actor: Actor, activity: Activity, *, from_partner_id, to_partner_id,
                category_ids: Iterable) -> InformationFlow:
    """At an activity, information of the categories named passes from one partner to
    another partner of the same collaboration."""
    policy.require(actor, "update", activity)
    source = _partner(activity.collaboration_id, from_partner_id, "from_partner_id")
    target = _partner(activity.collaboration_id, to_partner_id, "to_partner_id")
    if source.id == target.id:
        raise OperationError(_("Information flows from one partner to another partner."),
                             field="to_partner_id")
    categories = _categories(activity.collaboration_id, category_ids)
    flow = InformationFlow(collaboration_id=activity.collaboration_id, activity=activity,
                           from_partner=source, to_partner=target, categories=categories)
    db.session.add(flow)
    db.session.flush()
    return flow


def delete_flow(actor: Actor, flow: InformationFlow) -> None:
    """Remove one information flow."""
    policy.require(actor, "delete", flow)
    db.session.delete(flow)
    db.session.flush()
