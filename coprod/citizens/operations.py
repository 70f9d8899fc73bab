"""Writes to citizens, consents and citizen references.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError with the field at fault. Every
change to a citizen or a consent adds an audit event in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import aliased

from coprod import policy
from coprod.accounts.models import User
from coprod.citizens import audit
from coprod.citizens.models import (
    DETAILS_MAX,
    NAME_MAX,
    PSEUDONYM_MAX,
    PURPOSE_MAX,
    AuditAction,
    Citizen,
    CitizenReference,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.inputs import DAY_MAX, DAY_MIN, database_ids
from coprod.policy import Actor
from coprod.policy.consent import partners_lacking
from coprod.servicemap.models import Activity, InformationCategory
from coprod.spaces.models import Collaboration, Partner

ERASED = "[erased]"


# -- validation -----------------------------------------------------------------------------

def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise OperationError(_("This field is required."), field=field)
    if len(text) > limit:
        raise OperationError(_("Keep it under %(n)d characters (now %(len)d).", n=limit,
                               len=len(text)), field=field)
    return text


def _ids(values: Iterable | None, field: str) -> set[int]:
    try:
        return database_ids(values)
    except (TypeError, ValueError):
        raise OperationError(_("Choose from the list."), field=field) from None


def _of_collaboration(model, collaboration_id: int, ids: set[int], field: str) -> list:
    """The objects with these ids, all of this collaboration, or a refusal naming the field."""
    if not ids:
        return []
    found = db.session.scalars(select(model).where(
        model.collaboration_id == collaboration_id, model.id.in_(ids))).all()
    if len(found) != len(ids):
        raise OperationError(_("Choose from the list."), field=field)
    return list(found)


def _users(ids: set[int], field: str) -> list[User]:
    if not ids:
        return []
    found = db.session.scalars(select(User).where(User.id.in_(ids))).all()
    if len(found) != len(ids):
        raise OperationError(_("Choose from the list."), field=field)
    return list(found)


def _choice(enum_cls, value, field: str):
    try:
        return enum_cls(value)
    except ValueError:
        raise OperationError(_("Choose from the list."), field=field) from None


def local_instant(collaboration: Collaboration, day: date) -> datetime:
    """The start of `day` in the collaboration's time zone, as a UTC instant."""
    return datetime.combine(day, time.min, ZoneInfo(collaboration.timezone or "UTC"))


def period(collaboration: Collaboration, starts_on: date | None, ends_on: date | None
           ) -> tuple[datetime, datetime | None]:
    """A consent's period in local days (the last one included) as [start, end) instants."""
    for field, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day is not None and not DAY_MIN <= day <= DAY_MAX:  # the day after 9999-12-31...
            raise OperationError(_("Use a day from %(min)s to %(max)s.", min=DAY_MIN.isoformat(),
                                   max=DAY_MAX.isoformat()), field=field)
    if starts_on is None:
        starts_at = utcnow()
    else:
        starts_at = local_instant(collaboration, starts_on)
    if ends_on is None:
        return starts_at, None
    ends_at = local_instant(collaboration, ends_on + timedelta(days=1))
    if ends_at <= starts_at:
        raise OperationError(_("The end date must not be before the start date."),
                             field="ends_on")
    return starts_at, ends_at


# -- citizens -------------------------------------------------------------------------------

def _check_pseudonym(collaboration_id: int, pseudonym: str, citizen_id: int | None) -> None:
    clash = db.session.scalar(select(Citizen.id).where(
        Citizen.collaboration_id == collaboration_id,
        func.lower(Citizen.pseudonym) == pseudonym.lower(), Citizen.id != (citizen_id or 0)))
    if clash is not None:
        raise OperationError(_("Another citizen of this collaboration has this pseudonym."),
                             field="pseudonym")


def create_citizen(actor: Actor, collaboration: Collaboration, *, pseudonym: str, name: str,
                   details: str = "", activity_ids: Iterable = (), user_id: int | None = None,
                   guardian_ids: Iterable = ()) -> Citizen:
    policy.require(actor, "add_citizen", collaboration)
    pseudonym = _text(pseudonym, "pseudonym", PSEUDONYM_MAX, required=True)
    _check_pseudonym(collaboration.id, pseudonym, None)
    citizen = Citizen(
        collaboration_id=collaboration.id, pseudonym=pseudonym,
        name=_text(name, "name", NAME_MAX, required=True),
        details=_text(details, "details", DETAILS_MAX), created_by_id=actor.user_id)
    _set_links(citizen, collaboration, activity_ids, user_id, guardian_ids)
    db.session.add(citizen)
    db.session.flush()
    audit.record(actor, citizen, AuditAction.CITIZEN_CREATED, object_type="citizen",
                 object_id=citizen.id)
    db.session.flush()
    return citizen


def _set_links(citizen: Citizen, collaboration: Collaboration, activity_ids, user_id,
               guardian_ids) -> None:
    citizen.activities = _of_collaboration(Activity, collaboration.id,
                                           _ids(activity_ids, "activities"), "activities")
    # The account is looked up before the citizen points at it: the lookup flushes the
    # citizen, and an id of no account would fail that flush (a 500) instead of refusing.
    user = _users(_ids([user_id] if user_id else [], "user"), "user")
    citizen.user_id = user[0].id if user else None
    guardians = _users(_ids(guardian_ids, "guardians"), "guardians")
    if citizen.user_id is not None and citizen.user_id in {u.id for u in guardians}:
        raise OperationError(_("A citizen cannot be their own guardian."), field="guardians")
    citizen.guardians = guardians


def update_citizen(actor: Actor, citizen: Citizen, *, pseudonym: str, name: str,
                   details: str = "", activity_ids: Iterable = (), user_id: int | None = None,
                   guardian_ids: Iterable = ()) -> Citizen:
    policy.require(actor, "update", citizen)
    pseudonym = _text(pseudonym, "pseudonym", PSEUDONYM_MAX, required=True)
    _check_pseudonym(citizen.collaboration_id, pseudonym, citizen.id)
    citizen.pseudonym = pseudonym
    citizen.name = _text(name, "name", NAME_MAX, required=True)
    citizen.details = _text(details, "details", DETAILS_MAX)
    collaboration = db.session.get(Collaboration, citizen.collaboration_id)
    _set_links(citizen, collaboration, activity_ids, user_id, guardian_ids)
    audit.record(actor, citizen, AuditAction.CITIZEN_UPDATED, object_type="citizen",
                 object_id=citizen.id)
    db.session.flush()
    return citizen


# -- consent --------------------------------------------------------------------------------

def current_consents(citizen: Citizen) -> list[Consent]:
    """The records nothing has replaced and that permit (in force now or later, or expired)."""
    later = aliased(Consent)
    return list(db.session.scalars(
        select(Consent).where(Consent.citizen_id == citizen.id,
                              Consent.status == ConsentStatus.PERMIT,
                              ~select(later.id).where(later.replaces_id == Consent.id).exists())
        .order_by(Consent.starts_at, Consent.id)))


def history(citizen: Citizen) -> list[Consent]:
    """Every consent record of the citizen, newest first."""
    return list(db.session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)
                                   .order_by(Consent.recorded_at.desc(), Consent.id.desc())))


def _giver(actor: Actor, citizen: Citizen, given_by, given_by_name: str, method):
    """Who gave (or withdrew) consent and how; a citizen or guardian acting online is known."""
    if actor.user_id is not None and actor.user_id == citizen.user_id:
        return ConsentGiver.CITIZEN, "", actor.user_id, ConsentMethod.ONLINE
    if actor.user_id is not None and actor.user_id in citizen.guardian_ids:
        user = db.session.get(User, actor.user_id)
        return ConsentGiver.GUARDIAN, user.display_name, actor.user_id, ConsentMethod.ONLINE
    given_by = _choice(ConsentGiver, given_by, "given_by")
    name = _text(given_by_name, "given_by_name", NAME_MAX,
                 required=given_by == ConsentGiver.GUARDIAN)
    return given_by, name, None, _choice(ConsentMethod, method, "method")


def _still_current(consent: Consent) -> None:
    later = db.session.scalar(select(Consent.id).where(Consent.replaces_id == consent.id))
    if later is not None or consent.status != ConsentStatus.PERMIT:
        raise OperationError(_("This consent has been changed or withdrawn meanwhile; "
                               "reload the page to see the current one."), field="consent",
                             status=409)


def give_consent(actor: Actor, citizen: Citizen, *, partner_ids: Iterable,
                 category_ids: Iterable, purpose: str, starts_on: date | None = None,
                 ends_on: date | None = None, given_by=ConsentGiver.CITIZEN,
                 given_by_name: str = "", method=ConsentMethod.IN_PERSON,
                 replaces: Consent | None = None, note: str = "") -> Consent:
    """Record a consent, or a change to one (a new record that replaces it)."""
    policy.require(actor, "record_consent", citizen)
    if replaces is not None:
        if replaces.citizen_id != citizen.id:
            raise OperationError(_("Choose from the list."), field="consent")
        _still_current(replaces)
    collaboration = db.session.get(Collaboration, citizen.collaboration_id)
    partners = _of_collaboration(Partner, citizen.collaboration_id,
                                 _ids(partner_ids, "partners"), "partners")
    if not partners:
        raise OperationError(_("Name at least one partner organization."), field="partners")
    categories = _of_collaboration(InformationCategory, citizen.collaboration_id,
                                   _ids(category_ids, "categories"), "categories")
    if not categories:
        raise OperationError(_("Name at least one information category."), field="categories")
    purpose = _text(purpose, "purpose", PURPOSE_MAX, required=True)
    starts_at, ends_at = period(collaboration, starts_on, ends_on)
    giver, giver_name, giver_user, how = _giver(actor, citizen, given_by, given_by_name, method)
    consent = Consent(
        citizen_id=citizen.id, status=ConsentStatus.PERMIT,
        replaces_id=replaces.id if replaces else None, given_by=giver,
        given_by_name=giver_name, given_by_user_id=giver_user, method=how,
        recorded_by_id=actor.user_id, recorded_at=utcnow(), purpose=purpose,
        starts_at=starts_at, ends_at=ends_at, note=_text(note, "note", PURPOSE_MAX),
        partners=partners, categories=categories)
    db.session.add(consent)
    db.session.flush()
    audit.record(actor, citizen, AuditAction.CONSENT_CHANGED if replaces
                 else AuditAction.CONSENT_GIVEN, object_type="consent", object_id=consent.id)
    db.session.flush()
    return consent


def withdraw_consent(actor: Actor, consent: Consent, *, partner_id: int | None = None,
                     given_by=ConsentGiver.CITIZEN, given_by_name: str = "",
                     method=ConsentMethod.IN_PERSON, note: str = "") -> Consent:
    """Withdraw a consent, wholly or for one of its partner organizations.

    Withdrawing for one partner of several is a change: a new record naming the others, with
    everything else kept. Either way the old record stays in the history, replaced.
    """
    citizen = consent.citizen
    policy.require(actor, "withdraw_consent", citizen)
    _still_current(consent)
    giver, giver_name, giver_user, how = _giver(actor, citizen, given_by, given_by_name, method)
    remaining = list(consent.partners)
    if partner_id is not None:
        remaining = [p for p in consent.partners if p.id != int(partner_id)]
        if len(remaining) == len(consent.partners):
            raise OperationError(_("Choose from the list."), field="partner")
    keep = partner_id is not None and bool(remaining)
    record = Consent(
        citizen_id=citizen.id,
        status=ConsentStatus.PERMIT if keep else ConsentStatus.WITHDRAWN,
        replaces_id=consent.id, given_by=giver, given_by_name=giver_name,
        given_by_user_id=giver_user, method=how, recorded_by_id=actor.user_id,
        recorded_at=utcnow(), purpose=consent.purpose, starts_at=consent.starts_at,
        ends_at=consent.ends_at, note=_text(note, "note", PURPOSE_MAX),
        partners=remaining if keep else list(consent.partners),
        categories=list(consent.categories))
    db.session.add(record)
    db.session.flush()
    audit.record(actor, citizen, AuditAction.CONSENT_WITHDRAWN, object_type="consent",
                 object_id=record.id)
    db.session.flush()
    return record


# -- references -----------------------------------------------------------------------------

def check_reference(actor: Actor, collaboration_id: int, citizen_id, category_ids: Iterable,
                    audience_partner_ids: Iterable[int]) -> tuple[Citizen, list]:
    """The citizen and categories of a reference the actor may write to this audience.

    Refuses (field "citizen") when the actor may not write about the citizen, and (field
    "audience") naming the partner organizations of the audience that lack a need to know or a
    consent; the caller can offer to narrow the audience to the others.
    """
    try:
        citizen = db.session.get(Citizen, int(citizen_id))
    except (TypeError, ValueError):
        citizen = None
    if (citizen is None or citizen.collaboration_id != collaboration_id
            or not policy.may(actor, "read", citizen)):
        raise OperationError(_("Choose a citizen from the list."), field="citizen")
    if not policy.may(actor, "reference", citizen):
        raise OperationError(_("Your organization has no consent to receive information "
                               "about this citizen."), field="citizen")
    categories = _of_collaboration(InformationCategory, collaboration_id,
                                   _ids(category_ids, "categories"), "categories")
    if not categories:
        raise OperationError(_("Name the categories of information it contains."),
                             field="categories")
    wanted = {c.id for c in categories}
    seat = actor.seat(collaboration_id)
    if partners_lacking(citizen, wanted, [seat.partner_id]):
        raise OperationError(_("Your organization has no consent for all these categories of "
                               "information about this citizen."), field="categories")
    lacking = partners_lacking(citizen, wanted, set(audience_partner_ids))
    if lacking:
        _record_friction(collaboration_id, lacking)
        names = db.session.scalars(select(Partner).where(Partner.id.in_(lacking))
                                   .order_by(Partner.id)).all()
        error = OperationError(
            _("Not everyone who would read this may know it about this citizen: %(names)s "
              "lack a need to know or a consent.",
              names=", ".join(p.organization.name for p in names)), field="audience")
        error.lacking = sorted(lacking)
        raise error
    return citizen, categories


def _record_friction(collaboration_id: int, partner_ids: set[int]) -> None:
    """Count the refusal for the digest. The refused post's transaction will roll back; the
    fact that its audience lacked consent must not, so it is written once that transaction
    has ended (coprod.citizens.audit writes what is left in session.info)."""
    now = utcnow()
    db.session.info.setdefault("coprod_consent_frictions", []).extend(
        {"collaboration_id": collaboration_id, "partner_id": p, "at": now}
        for p in sorted(partner_ids))


def attach_reference(content, citizen: Citizen, categories: list) -> CitizenReference:
    """Link a new reflection, reply or message to the citizen it is about."""
    kind = {"reflections": "reflection", "replies": "reply",
            "messages": "message"}[content.__tablename__]
    reference = CitizenReference(citizen_id=citizen.id, categories=categories,
                                 **{kind: content})
    db.session.add(reference)
    db.session.flush()
    db.session.expire(content, ["citizen_reference"])  # read-only on the content's side
    return reference


# -- erasure --------------------------------------------------------------------------------

def _redact(text: str, names: list[str]) -> str:
    for name in names:
        text = re.sub(re.escape(name), ERASED, text, flags=re.IGNORECASE)
    return text


def erase_citizen(actor: Actor, citizen: Citizen) -> Citizen:
    """Erase a citizen on request: the record's personal data and every reference go.

    Content that referenced the citizen stays, de-identified: the citizen's name and pseudonym
    are replaced in its text and its earlier versions (and any vector of its text) are
    dropped. Consents and the audit stay (the law requires them); the erasure itself is
    audited.
    """
    from coprod.digests.vectors import forget as forget_vectors
    from coprod.messages.models import Message
    from coprod.reflections.models import Reflection, ReflectionRevision, Reply

    policy.require(actor, "erase", citizen)
    names = sorted({n for n in (citizen.name, citizen.pseudonym) if n}, key=len, reverse=True)
    references = db.session.scalars(select(CitizenReference).where(
        CitizenReference.citizen_id == citizen.id)).all()
    for reference in references:
        for model, ident in ((Reflection, reference.reflection_id), (Reply, reference.reply_id),
                             (Message, reference.message_id)):
            if ident is None:
                continue
            content = db.session.get(model, ident)
            content.body = _redact(content.body, names)
            if model is Reflection:
                db.session.execute(delete(ReflectionRevision).where(
                    ReflectionRevision.reflection_id == ident))
                db.session.flush()  # the redaction first: see vectors.forget()
                forget_vectors([ident])  # a vector of the unredacted text must not remain
        db.session.delete(reference)
    audit.record(actor, citizen, AuditAction.CITIZEN_ERASED, object_type="citizen",
                 object_id=citizen.id)
    citizen.pseudonym = f"{ERASED} {citizen.id}"
    citizen.name = None
    citizen.details = ""
    citizen.user_id = None
    citizen.guardians = []
    citizen.activities = []
    citizen.erased_at = utcnow()
    citizen.erased_by_id = actor.user_id
    from coprod.api.idempotency import forget_answers_in

    forget_answers_in(citizen.collaboration_id)  # API answers kept for retries may name them
    db.session.flush()
    return citizen
