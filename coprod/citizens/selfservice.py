"""The citizen's own page: who may see their information and why, who looked, and withdrawal.

A citizen, or a guardian, logs in with their ordinary account. The pages are theirs alone:
anyone else answers 404, coordinators included (staff have their own citizen pages). What is
shown is read through the policy, as the citizen ((Citizen, "read"), "read_consents",
"read_audit", "download": the CitizenSubject grant), narrowed to the citizens whose account or
guardian the user is:

    /my/information                                   the citizens the user is or acts for
    /my/information/<cid>                             the page: consents, reasons, access log
    /my/information/<cid>/consents/<id>/withdraw      POST: withdraw for one partner, or all
    /my/information/<cid>/download.json               everything recorded about the citizen

The access log names organizations, not staff members: the citizen asks which organization
looked. The reasons come from the service map: an organization performs an activity of the
citizen's service, or receives categories of information at one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import selectinload

from coprod import pagecache, policy
from coprod.citizens import audit, operations
from coprod.citizens.models import (
    AuditAction,
    AuditEvent,
    Channel,
    Citizen,
    CitizenGuardian,
    CitizenReference,
    Consent,
    ConsentStatus,
)
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.messages.models import Message
from coprod.policy.consent import known_triples, now
from coprod.reflections.models import Reflection, ReflectionRevision, Reply
from coprod.spaces.models import Collaboration, Membership, Organization, Partner

bp = Blueprint("my_information", __name__)

# The page shows the latest reads; the download has them all.
ACCESS_LOG_LIMIT = 200


@bp.before_request
@login_required
def _require_login():
    """A citizen's page needs the citizen (or a guardian) logged in."""


@bp.app_context_processor
def _navigation():
    """The site header and the home page link to "My information" for citizens and guardians."""
    return {"has_my_information": has_my_information}


def has_my_information() -> bool:
    """Whether the logged-in user is a citizen or a guardian of one (asked once a request)."""
    if not current_user.is_authenticated:
        return False
    if "has_my_information" not in g:
        # Staff are neither: one indexed look-up spares them the policy's query.
        g.has_my_information = pagecache.kept_value("has my information", _has_citizens)
    return g.has_my_information


def _has_citizens() -> bool:
    return _is_or_acts_for_a_citizen(current_user.id) and (
        db.session.scalar(_my_citizens(policy.current_actor())
                          .with_only_columns(Citizen.id).limit(1)) is not None)


def _is_or_acts_for_a_citizen(user_id: int) -> bool:
    """Whether any citizen record is the user's or has them as a guardian (indexed columns)."""
    return db.session.scalar(select(or_(
        exists().where(Citizen.user_id == user_id),
        exists().where(CitizenGuardian.user_id == user_id)))) or False


# -- whose page -----------------------------------------------------------------------------

def _actor() -> policy.Actor:
    return policy.current_actor()


def _mine(actor: policy.Actor):
    """SQL: the citizen's own account is the actor's, or the actor is one of their guardians."""
    return or_(Citizen.user_id == actor.user_id,
               Citizen.id.in_(select(CitizenGuardian.citizen_id)
                              .where(CitizenGuardian.user_id == actor.user_id)))


def _my_citizens(actor: policy.Actor):
    return policy.scoped(actor, Citizen).where(_mine(actor))


def _own_citizen(citizen_id: int, action: str = "read") -> Citizen:
    """A citizen the user is or acts for, allowed `action`; 404 for anyone else."""
    actor = _actor()
    citizen = db.session.scalar(_my_citizens(actor).where(Citizen.id == citizen_id))
    if citizen is None or not policy.may(actor, action, citizen):
        abort(404)
    return citizen


# -- what the page shows --------------------------------------------------------------------

@dataclass
class Permission:
    """One organization named by a consent: why it needs to know, and whether it sees now."""

    partner: Partner
    reasons: list[str]
    sees_now: bool


@dataclass
class CurrentConsent:
    consent: Consent
    starts_on: date
    ends_on: date | None  # the last day included
    state: str            # "in_force", "future" or "ended"
    permissions: list[Permission] = field(default_factory=list)


@dataclass
class HistoryEntry:
    consent: Consent
    what: str                 # "given", "changed" or "withdrawn"
    dropped: list[Partner]    # organizations a change took out
    added: list[Partner]      # organizations a change brought in


def reasons(citizen: Citizen) -> dict[int, list[str]]:
    """Why each organization needs to know, by partner id, from the citizen's service."""
    found: dict[int, list[str]] = defaultdict(list)
    for activity in citizen.activities:
        for partner in activity.performers:
            found[partner.id].append(_("It does “%(activity)s” in your service.",
                                       activity=activity.name))
        for flow in activity.flows:
            found[flow.to_partner_id].append(_(
                "It gets %(categories)s from %(organization)s for “%(activity)s”.",
                categories=", ".join(c.name.lower() for c in flow.categories),
                organization=flow.from_partner.name, activity=activity.name))
    return found


def _local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def _current(citizen: Citizen, records: list[Consent], zone: ZoneInfo) -> list[CurrentConsent]:
    """The consents nothing replaced that permit, each organization with its reasons."""
    replaced = {c.replaces_id for c in records if c.replaces_id}
    why = reasons(citizen)
    seeing = {row.partner_id for row in db.session.execute(
        known_triples(now()).where(Consent.citizen_id == citizen.id))}
    moment = utcnow()
    shown = []
    for consent in sorted(records, key=lambda c: (c.starts_at, c.id)):
        if consent.id in replaced or consent.status != ConsentStatus.PERMIT:
            continue
        ends_on = _local_day(consent.ends_at - timedelta(days=1), zone) if consent.ends_at \
            else None
        state = ("in_force" if consent.in_force(moment) else
                 "future" if consent.starts_at > moment else "ended")
        shown.append(CurrentConsent(
            consent, _local_day(consent.starts_at, zone), ends_on, state,
            [Permission(p, why.get(p.id, []), p.id in seeing) for p in consent.partners]))
    return shown


def _history(records: list[Consent]) -> list[HistoryEntry]:
    """Every record, newest first, with what a change added or took out."""
    by_id = {c.id: c for c in records}
    entries = []
    for consent in records:
        before = by_id.get(consent.replaces_id)
        if consent.status == ConsentStatus.WITHDRAWN:
            what, dropped, added = "withdrawn", [], []
        elif before is None:
            what, dropped, added = "given", [], []
        else:
            now_ids = {p.id for p in consent.partners}
            was_ids = {p.id for p in before.partners}
            what = "changed"
            dropped = [p for p in before.partners if p.id not in now_ids]
            added = [p for p in consent.partners if p.id not in was_ids]
        entries.append(HistoryEntry(consent, what, dropped, added))
    return entries


def _consent_records(actor: policy.Actor, citizen: Citizen) -> list[Consent]:
    """Every consent record of the citizen, newest first, partners and categories loaded."""
    return list(db.session.scalars(
        policy.scoped(actor, Consent).where(Consent.citizen_id == citizen.id)
        .options(selectinload(Consent.partners), selectinload(Consent.categories),
                 selectinload(Consent.recorded_by))
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())))


def _audit(actor: policy.Actor, citizen: Citizen, *, reads: bool | None = None,
           limit: int | None = None) -> list[AuditEvent]:
    """The citizen's audit events, newest first: only reads, all but reads, or all."""
    stmt = (policy.scoped(actor, AuditEvent).where(AuditEvent.citizen_id == citizen.id)
            .options(selectinload(AuditEvent.partner))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))
    if reads is not None:
        stmt = stmt.where((AuditEvent.action == AuditAction.READ) if reads
                          else (AuditEvent.action != AuditAction.READ))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def _collaboration(citizen: Citizen) -> Collaboration:
    return db.session.get(Collaboration, citizen.collaboration_id)


def _partners(citizen: Citizen) -> list[Partner]:
    """The organizations of the citizen's collaboration (named to the citizen on their page)."""
    return list(db.session.scalars(
        select(Partner).join(Organization, Organization.id == Partner.organization_id)
        .where(Partner.collaboration_id == citizen.collaboration_id)
        .order_by(Organization.name, Partner.id)))


def _page(citizen: Citizen, status: int = 200, error: str | None = None):
    actor = _actor()
    policy.require(actor, "read_consents", citizen)
    collaboration = _collaboration(citizen)
    zone = ZoneInfo(collaboration.timezone or "UTC")
    records = _consent_records(actor, citizen)
    current = _current(citizen, records, zone)
    seeing = {p.partner.id for c in current for p in c.permissions if p.sees_now}
    reads = []
    if policy.may(actor, "read_audit", citizen):
        reads = _audit(actor, citizen, reads=True, limit=ACCESS_LOG_LIMIT + 1)
    return render_template(
        "citizens/self/page.html", citizen=citizen, collaboration=collaboration,
        current=current, history=_history(records),
        not_seeing=[p for p in _partners(citizen) if p.id not in seeing],
        reads=reads[:ACCESS_LOG_LIMIT], more_reads=len(reads) > ACCESS_LOG_LIMIT,
        limit=ACCESS_LOG_LIMIT, is_guardian=actor.user_id != citizen.user_id,
        may_download=policy.may(actor, "download", citizen), error=error), status


# -- pages ----------------------------------------------------------------------------------

@bp.get("/my/information")
def index():
    """The citizens the user is or acts for; straight to the page when there is one."""
    actor = _actor()
    citizens = list(db.session.scalars(
        _my_citizens(actor).order_by(Citizen.collaboration_id, Citizen.id)))
    if len(citizens) == 1:
        return redirect(url_for(".page", citizen_id=citizens[0].id))
    titles = {c.id: c.title for c in db.session.scalars(select(Collaboration).where(
        Collaboration.id.in_({c.collaboration_id for c in citizens})))}
    return render_template("citizens/self/index.html", citizens=citizens, titles=titles,
                           me=actor.user_id)


@bp.get("/my/information/<int:citizen_id>")
def page(citizen_id: int):
    """Who may see the citizen's information and why, the consent history, who looked."""
    return _page(_own_citizen(citizen_id))


@bp.post("/my/information/<int:citizen_id>/consents/<int:consent_id>/withdraw")
def withdraw(citizen_id: int, consent_id: int):
    """One click: withdraw a consent for one organization (partner_id), or all of it."""
    citizen = _own_citizen(citizen_id)
    consent = policy.get_or_404(_actor(), Consent, consent_id)
    if consent.citizen_id != citizen.id:
        abort(404)
    partner = _partner_named(consent, request.form.get("partner_id"))
    try:
        operations.withdraw_consent(_actor(), consent,
                                    partner_id=partner.id if partner else None)
    except OperationError as err:
        db.session.rollback()
        return _page(citizen, status=err.status, error=err.message)
    if partner is not None and len(consent.partners) > 1:
        flash(_("Done. %(organization)s can no longer see your information under this "
                "consent.", organization=partner.name), "success")
    else:
        flash(_("Done. You withdrew this consent. The organizations it named can no longer "
                "see your information through it."), "success")
    return redirect(url_for(".page", citizen_id=citizen.id))


def _partner_named(consent: Consent, value: str | None) -> Partner | None:
    """The partner of the form's partner_id (None: the whole consent); 404 if not named."""
    if not value:
        return None
    try:
        wanted = int(value)
    except ValueError:
        abort(404)
    partner = next((p for p in consent.partners if p.id == wanted), None)
    if partner is None:
        abort(404)
    return partner


# -- the download ---------------------------------------------------------------------------

@bp.get("/my/information/<int:citizen_id>/download.json")
def download(citizen_id: int):
    """Everything recorded about the citizen, as JSON; the download itself is audited."""
    citizen = _own_citizen(citizen_id, "download")
    actor = _actor()
    audit.record(actor, citizen, AuditAction.DOWNLOADED, object_type="citizen",
                 object_id=citizen.id, channel=Channel.EXPORT)
    db.session.flush()
    document = json.dumps(record_of(actor, citizen), ensure_ascii=False, indent=2)
    name = f"coprod-my-information-{citizen.id}-{utcnow().date().isoformat()}.json"
    db.session.commit()  # last: nothing is read after it
    return Response(document, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    })


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _names(objects) -> list[str]:
    return [o.name for o in objects]


def record_of(actor: policy.Actor, citizen: Citizen) -> dict:
    """The citizen's record, consents, audit and the content about them, as plain data."""
    collaboration = _collaboration(citizen)
    events = _audit(actor, citizen)
    return {
        "downloaded_at": _iso(utcnow()),
        "collaboration": {"id": collaboration.id, "title": collaboration.title},
        "citizen": {
            "id": citizen.id, "pseudonym": citizen.pseudonym, "name": citizen.name,
            "details": citizen.details, "recorded_at": _iso(citizen.created_at),
            "service": [{"position": a.position, "activity": a.name,
                         "description": a.description, "co_produced": a.co_produced,
                         "performed_by": _names(a.performers)} for a in citizen.activities],
        },
        "consents": [_consent_data(c) for c in reversed(_consent_records(actor, citizen))],
        "access_log": [_event_data(e) for e in events if e.action == AuditAction.READ],
        "other_events": [_event_data(e) for e in events if e.action != AuditAction.READ],
        "content": _content(citizen),
    }


def _consent_data(consent: Consent) -> dict:
    return {
        "id": consent.id, "status": consent.status.value, "replaces": consent.replaces_id,
        "given_by": consent.given_by.value, "given_by_name": consent.given_by_name,
        "method": consent.method.value,
        "recorded_by": consent.recorded_by.display_name if consent.recorded_by else None,
        "recorded_at": _iso(consent.recorded_at), "purpose": consent.purpose,
        "starts_at": _iso(consent.starts_at), "ends_at": _iso(consent.ends_at),
        "note": consent.note, "organizations": _names(consent.partners),
        "categories": _names(consent.categories),
    }


def _event_data(event: AuditEvent) -> dict:
    return {
        "at": _iso(event.at), "action": event.action.value,
        "organization": event.partner.name if event.partner else None,
        "channel": event.channel.value if event.channel else None,
        "what": event.object_type, "id": event.object_id,
    }


def _content(citizen: Citizen) -> list[dict]:
    """Every reflection, reply and message about the citizen: text, date, categories, and
    the organization that wrote it. Read as rows, so no read of content is audited."""
    references = db.session.scalars(
        select(CitizenReference).where(CitizenReference.citizen_id == citizen.id)
        .options(selectinload(CitizenReference.categories))
        .order_by(CitizenReference.created_at, CitizenReference.id)).all()
    texts = {**_reflections(references), **_replies(references),
             **_messages(references, citizen.collaboration_id)}
    return [{**texts[key], "categories": _names(r.categories)}
            for r in references if (key := _key(r)) in texts]


def _key(reference: CitizenReference) -> tuple[str, int]:
    for kind in ("reflection", "reply", "message"):
        if getattr(reference, f"{kind}_id") is not None:
            return kind, getattr(reference, f"{kind}_id")
    raise ValueError(reference)


def _ids(references, kind: str) -> list[int]:
    return [k[1] for r in references if (k := _key(r))[0] == kind]


def _organization_of(partner_column):
    return (select(Organization.name).join(Partner, Partner.organization_id == Organization.id)
            .where(Partner.id == partner_column).scalar_subquery())


def _reflections(references) -> dict:
    ids = _ids(references, "reflection")
    if not ids:
        return {}
    earlier = defaultdict(list)
    for reflection_id, body, edited_at in db.session.execute(
            select(ReflectionRevision.reflection_id, ReflectionRevision.body,
                   ReflectionRevision.edited_at)
            .where(ReflectionRevision.reflection_id.in_(ids))
            .order_by(ReflectionRevision.edited_at, ReflectionRevision.id)):
        earlier[reflection_id].append({"text": body, "edited_at": _iso(edited_at)})
    rows = db.session.execute(select(
        Reflection.id, Reflection.body, Reflection.created_at, Reflection.edited_at,
        Reflection.withdrawn_at, _organization_of(Reflection.partner_id))
        .where(Reflection.id.in_(ids)))
    return {("reflection", i): {
        "type": "reflection", "id": i, "text": body, "written_at": _iso(created),
        "edited_at": _iso(edited), "withdrawn_at": _iso(withdrawn), "organization": org,
        "earlier_versions": earlier[i]} for i, body, created, edited, withdrawn, org in rows}


def _replies(references) -> dict:
    ids = _ids(references, "reply")
    if not ids:
        return {}
    rows = db.session.execute(select(
        Reply.id, Reply.reflection_id, Reply.body, Reply.created_at, Reply.edited_at,
        Reply.withdrawn_at, _organization_of(Reply.partner_id)).where(Reply.id.in_(ids)))
    return {("reply", i): {
        "type": "reply", "id": i, "reflection": reflection_id, "text": body,
        "written_at": _iso(created), "edited_at": _iso(edited),
        "withdrawn_at": _iso(withdrawn), "organization": org}
        for i, reflection_id, body, created, edited, withdrawn, org in rows}


def _messages(references, collaboration_id: int) -> dict:
    """Messages name no partner: the author's organization is their seat's."""
    ids = _ids(references, "message")
    if not ids:
        return {}
    seat = and_(Membership.user_id == Message.author_id,
                Membership.collaboration_id == collaboration_id)
    rows = db.session.execute(
        select(Message.id, Message.conversation_id, Message.body, Message.created_at,
               _organization_of(Membership.partner_id))
        .outerjoin(Membership, seat).where(Message.id.in_(ids)))
    return {("message", i): {
        "type": "message", "id": i, "conversation": conversation_id, "text": body,
        "written_at": _iso(created), "organization": org}
        for i, conversation_id, body, created, org in rows}
