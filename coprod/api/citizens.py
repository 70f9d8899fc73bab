"""/api/v1/collaborations/{id}/citizens and /api/v1/me/citizens: citizens, their consents,
the audit of who read what about them, and the citizen's own download.

Everything reads through the policy (coprod.policy.rules, coprod.policy.consent): a citizen the
caller may not know of answers 404, as do objects of another collaboration. The pseudonym is
shown to everyone who may know of the citizen; the name, details and linked accounts only to
callers who may know who the citizen is (read_identity), null for others. Consents are never
edited: a change or a withdrawal is a new record that replaces the one before.

Content (reflections, replies, messages) may reference a citizen: the fields declared here
(`citizen_id` and `category_ids` on input, `citizen` and `categories` on output) are shared
with those resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response
from flask.views import MethodView
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from coprod import policy
from coprod.accounts.models import Role, User
from coprod.api.common import ApiBlueprint, object_in
from coprod.api.pagination import PageArgsSchema, page_schema, paginate
from coprod.api.schemas import (
    PartnerSummarySchema,
    Timestamp,
    UserSummarySchema,
    choice,
    text,
)
from coprod.api.servicemap import CategorySummarySchema
from coprod.citizens import audit, operations, selfservice
from coprod.citizens.models import (
    DETAILS_MAX,
    NAME_MAX,
    PSEUDONYM_MAX,
    PURPOSE_MAX,
    AuditAction,
    AuditEvent,
    Channel,
    Citizen,
    CitizenGuardian,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.policy import Actor
from coprod.spaces.models import Collaboration, Partner

blp = ApiBlueprint("citizen_records", __name__,
                   url_prefix="/collaborations/<int:collaboration_id>/citizens",
                   description="Citizens the collaboration serves, their consents to share "
                               "information, and the audit of who read what about them.")

my_blp = ApiBlueprint("my_citizens", __name__, url_prefix="/me/citizens",
                      description="For a citizen or guardian: the citizens the token's user "
                                  "is, or is a guardian of, and the download of everything "
                                  "recorded about them.")

IDENTITY_DOC = ("Shown only to callers who may know who the citizen is (coordinators, staff of "
                "a partner with a consent in force now, the citizen and their guardians); "
                "null for everyone else.")


# -- what the caller sees -------------------------------------------------------------------

@dataclass
class CitizenView:
    """A citizen as the caller sees it: the identity only where the policy allows it."""

    citizen: Citizen
    identified: bool

    def __getattr__(self, name: str):
        return getattr(self.citizen, name)

    @property
    def name(self) -> str | None:
        return self.citizen.name if self.identified else None

    @property
    def details(self) -> str | None:
        return self.citizen.details if self.identified else None

    @property
    def user(self) -> User | None:
        return self.citizen.user if self.identified else None

    @property
    def guardians(self) -> list[User] | None:
        return self.citizen.guardians if self.identified else None


def citizen_views(actor: Actor, citizens: list[Citizen]) -> list[CitizenView]:
    """Views of loaded citizens; who may be identified is one query for the whole page."""
    ids = [c.id for c in citizens]
    identified = set(db.session.scalars(select(Citizen.id).where(
        Citizen.id.in_(ids), policy.where(actor, Citizen, "read_identity")))) if ids else set()
    return [CitizenView(c, c.id in identified) for c in citizens]


def citizen_view(actor: Actor, citizen: Citizen) -> CitizenView:
    return CitizenView(citizen, policy.may(actor, "read_identity", citizen))


@dataclass
class ConsentView:
    """A consent record with what the history says about it: replaced, and in force now."""

    consent: Consent
    replaced_by_id: int | None
    in_force: bool

    def __getattr__(self, name: str):
        return getattr(self.consent, name)


def consent_views(consents: list[Consent]) -> list[ConsentView]:
    """Which record replaced each one, in one query; in force = in its period, not replaced."""
    ids = [c.id for c in consents]
    replaced = dict(db.session.execute(select(Consent.replaces_id, Consent.id).where(
        Consent.replaces_id.in_(ids))).all()) if ids else {}
    now = utcnow()
    return [ConsentView(c, replaced.get(c.id), c.id not in replaced and c.in_force(now))
            for c in consents]


@dataclass
class AuditEventView:
    event: AuditEvent
    user: User | None

    def __getattr__(self, name: str):
        return getattr(self.event, name)


def audit_views(actor: Actor, events: list[AuditEvent]) -> list[AuditEventView]:
    """Coordinators see which person read; the citizen sees which organization did."""
    def named(event: AuditEvent) -> bool:
        seat = actor.seat(event.collaboration_id)
        return seat is not None and seat.role == Role.COORDINATOR

    return [AuditEventView(e, e.user if named(e) else None) for e in events]


# -- schemas: content about a citizen (shared with reflections, replies, messages) -----------

class CitizenSummarySchema(Schema):
    id = fields.Integer()
    pseudonym = fields.String()


class _OfReference:
    """Reads one attribute of the content's citizen reference (`empty` when there is none)."""

    of = ""
    empty = None

    def get_value(self, obj, attr, accessor=None, default=None):
        reference = obj.citizen_reference
        return self.empty if reference is None else getattr(reference, self.of)


class ReferencedCitizen(_OfReference, fields.Nested):
    of = "citizen"


class ReferencedCategories(_OfReference, fields.List):
    of = "categories"
    empty = []


class AboutCitizenSchema(Schema):
    """Output fields of content that may be about a citizen."""

    citizen = ReferencedCitizen(CitizenSummarySchema, allow_none=True, metadata={
        "description": "The citizen this is about, or null. Content about a citizen reaches "
                       "only partners with a need to know and a consent in force."})
    categories = ReferencedCategories(fields.Nested(CategorySummarySchema), metadata={
        "description": "The categories of information about the citizen it holds."})


class AboutCitizenInputSchema(Schema):
    """Input fields of content that may be about a citizen."""

    citizen_id = fields.Integer(allow_none=True, metadata={
        "description": "The citizen this is about, if any (needs category_ids). Refused with "
                       "422, field audience and lacking_partner_ids, when a partner "
                       "organization that would read it lacks a need to know or a consent."})
    category_ids = fields.List(fields.Integer(), metadata={
        "description": "With citizen_id: the categories of information it holds."})


def about_citizen(data: dict) -> dict:
    """The operations' citizen= and categories= keywords, taken out of the request body."""
    return {"citizen": data.pop("citizen_id", None),
            "categories": data.pop("category_ids", None) or ()}


# -- schemas: citizens, consents, audit -----------------------------------------------------

class ActivitySummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CollaborationSummarySchema(Schema):
    id = fields.Integer()
    title = fields.String()


class CitizenSchema(Schema):
    id = fields.Integer()
    collaboration_id = fields.Integer()
    pseudonym = fields.String(metadata={"description": "How partners know the citizen."})
    name = fields.String(allow_none=True, metadata={"description": IDENTITY_DOC})
    details = fields.String(allow_none=True, metadata={"description": IDENTITY_DOC})
    user = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "The citizen's own user account, if any. " + IDENTITY_DOC})
    guardians = fields.List(fields.Nested(UserSummarySchema), allow_none=True, metadata={
        "description": "User accounts that act for the citizen. " + IDENTITY_DOC})
    activities = fields.List(fields.Nested(ActivitySummarySchema), metadata={
        "description": "The activities of the service map the citizen takes part in: their "
                       "performers and the partners receiving flows there need to know."})
    created_at = Timestamp()
    erased_at = Timestamp(allow_none=True, metadata={
        "description": "Set once erased: the record keeps only its id for the consents and "
                       "audit the law requires to keep."})


class MyCitizenSchema(CitizenSchema):
    collaboration = fields.Nested(CollaborationSummarySchema, metadata={
        "description": "The collaboration that serves the citizen."})


class CitizenCreateSchema(Schema):
    pseudonym = text(PSEUDONYM_MAX, required=True, metadata={
        "description": "Unique in the collaboration; shown to partners who may know of the "
                       "citizen."})
    name = text(NAME_MAX, required=True)
    details = fields.String(validate=validate.Length(max=DETAILS_MAX))
    activity_ids = fields.List(fields.Integer(), metadata={
        "description": "Activities of the service map the citizen takes part in."})
    user_id = fields.Integer(allow_none=True, metadata={
        "description": "The citizen's own user account, if they have one."})
    guardian_ids = fields.List(fields.Integer(), metadata={
        "description": "User accounts that act for the citizen."})


class CitizenUpdateSchema(CitizenCreateSchema):
    pseudonym = text(PSEUDONYM_MAX)
    name = text(NAME_MAX)


class ConsentSchema(Schema):
    id = fields.Integer()
    citizen_id = fields.Integer()
    status = choice(ConsentStatus, metadata={
        "description": "permit, or withdrawn for a record that withdraws the one it replaces."})
    replaces_id = fields.Integer(allow_none=True, metadata={
        "description": "The record this one changes or withdraws."})
    replaced_by_id = fields.Integer(allow_none=True, metadata={
        "description": "The record that changed or withdrew this one; null while current."})
    in_force = fields.Boolean(metadata={
        "description": "Permits now: not replaced, and its period covers this moment."})
    partners = fields.List(fields.Nested(PartnerSummarySchema), metadata={
        "description": "The partner organizations permitted to receive the information."})
    categories = fields.List(fields.Nested(CategorySummarySchema))
    purpose = fields.String()
    starts_at = Timestamp(metadata={"description": "Start of the first day, local time."})
    ends_at = Timestamp(allow_none=True, metadata={
        "description": "End of the last day (exclusive); null without an end."})
    given_by = choice(ConsentGiver)
    given_by_name = fields.String(metadata={"description": "The guardian's name, if one."})
    method = choice(ConsentMethod)
    recorded_by = fields.Nested(UserSummarySchema, allow_none=True)
    recorded_at = Timestamp()
    note = fields.String()


class _GiverSchema(Schema):
    given_by = choice(ConsentGiver, metadata={
        "description": "Who gave it (citizen by default). Ignored when the caller is the "
                       "citizen or a guardian: they act online themselves."})
    given_by_name = fields.String(validate=validate.Length(max=NAME_MAX), metadata={
        "description": "Required when a guardian gave it."})
    method = choice(ConsentMethod, metadata={"description": "How (in_person by default)."})
    note = fields.String(validate=validate.Length(max=PURPOSE_MAX))


class ConsentCreateSchema(_GiverSchema):
    partner_ids = fields.List(fields.Integer(), required=True, metadata={
        "description": "Partner organizations of this collaboration permitted to receive."})
    category_ids = fields.List(fields.Integer(), required=True, metadata={
        "description": "Information categories they may receive."})
    purpose = text(PURPOSE_MAX, required=True)
    starts_on = fields.Date(metadata={"description": "First day (today if left out)."})
    ends_on = fields.Date(allow_none=True, metadata={
        "description": "Last day included; none for no end."})
    replaces_id = fields.Integer(allow_none=True, metadata={
        "description": "Change this current consent: the new record replaces it (409 if it "
                       "was changed or withdrawn meanwhile)."})


class ConsentWithdrawSchema(_GiverSchema):
    partner_id = fields.Integer(allow_none=True, metadata={
        "description": "Withdraw only for this partner organization; the consent goes on for "
                       "the others (a new permitting record). Left out: withdraw it all."})


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = Timestamp()
    action = choice(AuditAction)
    channel = choice(Channel, allow_none=True, metadata={
        "description": "How content was read: page, api, export or digest."})
    object_type = fields.String(metadata={
        "enum": ["reflection", "reply", "message", "consent", "citizen"]})
    object_id = fields.Integer(allow_none=True)
    partner = fields.Nested(PartnerSummarySchema, allow_none=True, metadata={
        "description": "The organization the person acted for."})
    user = fields.Nested(UserSummarySchema, allow_none=True, metadata={
        "description": "The person; shown to coordinators only, null for others."})


# The citizen's download: the very document of the web's download.json
# (coprod.citizens.selfservice.record_of), described here for the OpenAPI document.

class _ServiceStepSchema(Schema):
    position = fields.Integer()
    activity = fields.String()
    description = fields.String()
    co_produced = fields.Boolean()
    performed_by = fields.List(fields.String(), metadata={"description": "Organizations."})


class _RecordSchema(Schema):
    id = fields.Integer()
    pseudonym = fields.String()
    name = fields.String(allow_none=True)
    details = fields.String()
    recorded_at = Timestamp()
    service = fields.List(fields.Nested(_ServiceStepSchema))


class _RecordedConsentSchema(Schema):
    id = fields.Integer()
    status = choice(ConsentStatus)
    replaces = fields.Integer(allow_none=True, metadata={"description": "A consent id."})
    given_by = choice(ConsentGiver)
    given_by_name = fields.String()
    method = choice(ConsentMethod)
    recorded_by = fields.String(allow_none=True, metadata={"description": "A person's name."})
    recorded_at = Timestamp()
    purpose = fields.String()
    starts_at = Timestamp()
    ends_at = Timestamp(allow_none=True)
    note = fields.String()
    organizations = fields.List(fields.String())
    categories = fields.List(fields.String())


class _RecordedEventSchema(Schema):
    at = Timestamp()
    action = choice(AuditAction)
    organization = fields.String(allow_none=True)
    channel = choice(Channel, allow_none=True)
    what = fields.String(metadata={
        "enum": ["reflection", "reply", "message", "consent", "citizen"]})
    id = fields.Integer(allow_none=True)


class _EarlierVersionSchema(Schema):
    text = fields.String()
    edited_at = Timestamp()


class _RecordedContentSchema(Schema):
    type = fields.String(metadata={"enum": ["reflection", "reply", "message"]})
    id = fields.Integer()
    text = fields.String(metadata={"description": "Markdown; empty once withdrawn."})
    written_at = Timestamp()
    edited_at = Timestamp(allow_none=True, metadata={"description": "Not for messages."})
    withdrawn_at = Timestamp(allow_none=True, metadata={"description": "Not for messages."})
    organization = fields.String(allow_none=True, metadata={
        "description": "The partner organization it was written for."})
    categories = fields.List(fields.String())
    earlier_versions = fields.List(fields.Nested(_EarlierVersionSchema), metadata={
        "description": "Reflections only."})
    reflection = fields.Integer(metadata={"description": "Replies only: the reflection."})
    conversation = fields.Integer(metadata={"description": "Messages only."})


class CitizenDownloadSchema(Schema):
    downloaded_at = Timestamp()
    collaboration = fields.Nested(CollaborationSummarySchema)
    citizen = fields.Nested(_RecordSchema)
    consents = fields.List(fields.Nested(_RecordedConsentSchema), metadata={
        "description": "Every consent record, oldest first."})
    access_log = fields.List(fields.Nested(_RecordedEventSchema), metadata={
        "description": "Which organization read content about the citizen, when, and how."})
    other_events = fields.List(fields.Nested(_RecordedEventSchema), metadata={
        "description": "Changes to the record and its consents, and downloads."})
    content = fields.List(fields.Nested(_RecordedContentSchema), metadata={
        "description": "Reflections, replies and messages about the citizen, whoever was "
                       "allowed to read them: the citizen's right of access."})


CitizenPageSchema = page_schema(CitizenSchema)
MyCitizenPageSchema = page_schema(MyCitizenSchema)
ConsentPageSchema = page_schema(ConsentSchema)
AuditEventPageSchema = page_schema(AuditEventSchema)


# -- lookups --------------------------------------------------------------------------------

CITIZEN_LOADS = (selectinload(Citizen.activities), selectinload(Citizen.user),
                 selectinload(Citizen.guardians))
CONSENT_LOADS = (selectinload(Consent.partners).selectinload(Partner.organization),
                 selectinload(Consent.categories), selectinload(Consent.recorded_by))


def _actor() -> Actor:
    return policy.current_actor()


def citizen_in(collaboration_id: int, citizen_id: int, action: str = "read") -> Citizen:
    """The citizen in the URL; 404 unless the caller may know of them in that collaboration.

    The collaboration itself is not asked for: a citizen or guardian reads their own record
    without being a member.
    """
    citizen = object_in(Citizen, collaboration_id, citizen_id)
    if action != "read":
        policy.require(_actor(), action, citizen)
    return citizen


def consent_of(citizen: Citizen, consent_id: int) -> Consent:
    """A consent record of the citizen in the URL, or 404."""
    consent = policy.get_or_404(_actor(), Consent, consent_id)
    if consent.citizen_id != citizen.id:
        raise NotFound()
    return consent


def _consents_stmt(actor: Actor, citizen: Citizen):
    return (policy.scoped(actor, Consent).where(Consent.citizen_id == citizen.id)
            .options(*CONSENT_LOADS)
            .order_by(Consent.recorded_at.desc(), Consent.id.desc()))


def _audit_stmt(actor: Actor, citizen: Citizen):
    return (policy.scoped(actor, AuditEvent).where(AuditEvent.citizen_id == citizen.id)
            .options(selectinload(AuditEvent.user),
                     selectinload(AuditEvent.partner).selectinload(Partner.organization))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


def _replaced(consent_id) -> Consent | None:
    """The consent a change replaces, named in the body: one the caller may read, or 422."""
    if consent_id is None:
        return None
    consent = db.session.scalar(policy.scoped(_actor(), Consent).where(
        Consent.id == consent_id))
    if consent is None:
        raise OperationError(_("Choose from the list."), field="replaces_id")
    return consent


# -- routes: citizens -----------------------------------------------------------------------

@blp.route("")
class Citizens(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CitizenPageSchema)
    @blp.fails_with(403, 404)
    def get(self, args, collaboration_id: int):
        """The citizens the caller may know of, by pseudonym.

        Name, details and accounts only where the caller may know who the citizen is (null
        otherwise). Staff of a partner without a need to know see no citizen."""
        actor = _actor()
        policy.get_or_404(actor, Collaboration, collaboration_id, "list_citizens")
        stmt = (policy.scoped(actor, Citizen)
                .where(Citizen.collaboration_id == collaboration_id)
                .options(*CITIZEN_LOADS).order_by(Citizen.pseudonym, Citizen.id))
        page = paginate(stmt, args)
        page["items"] = citizen_views(actor, page["items"])
        return page

    @blp.arguments(CitizenCreateSchema)
    @blp.response(201, CitizenSchema)
    @blp.fails_with(403, 404)
    def post(self, data, collaboration_id: int):
        """Record a citizen the collaboration serves (coordinators)."""
        actor = _actor()
        collaboration = policy.get_or_404(actor, Collaboration, collaboration_id, "add_citizen")
        citizen = operations.create_citizen(actor, collaboration, **data)
        return citizen_view(actor, citizen)


@blp.route("/<int:citizen_id>")
class CitizenItem(MethodView):
    @blp.response(200, CitizenSchema)
    @blp.fails_with(404)
    def get(self, collaboration_id: int, citizen_id: int):
        """One citizen.

        Name, details and accounts only where the caller may know who the citizen is (null
        otherwise)."""
        return citizen_view(_actor(), citizen_in(collaboration_id, citizen_id))

    @blp.arguments(CitizenUpdateSchema)
    @blp.response(200, CitizenSchema)
    @blp.fails_with(403, 404)
    def patch(self, data, collaboration_id: int, citizen_id: int):
        """Change a citizen's record (coordinators); fields left out stay."""
        actor = _actor()
        citizen = citizen_in(collaboration_id, citizen_id, "update")
        current = {"pseudonym": citizen.pseudonym, "name": citizen.name,
                   "details": citizen.details,
                   "activity_ids": [a.id for a in citizen.activities],
                   "user_id": citizen.user_id, "guardian_ids": sorted(citizen.guardian_ids)}
        operations.update_citizen(actor, citizen, **{**current, **data})
        return citizen_view(actor, citizen)


@blp.route("/<int:citizen_id>/erase")
class CitizenErase(MethodView):
    @blp.response(200, CitizenSchema)
    @blp.fails_with(403, 404)
    def post(self, collaboration_id: int, citizen_id: int):
        """Erase a citizen on request (coordinators).

        The name, details, links and every reference go; content that referenced the citizen
        stays, de-identified. Consents and the audit are kept, and the erasure is audited."""
        actor = _actor()
        citizen = operations.erase_citizen(actor, citizen_in(collaboration_id, citizen_id,
                                                             "erase"))
        return citizen_view(actor, citizen)


# -- routes: consents -----------------------------------------------------------------------

@blp.route("/<int:citizen_id>/consents")
class Consents(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConsentPageSchema)
    @blp.fails_with(403, 404)
    def get(self, args, collaboration_id: int, citizen_id: int):
        """The consent history, newest first.

        Every record, with the one that replaced it and whether it is in force now."""
        actor = _actor()
        citizen = citizen_in(collaboration_id, citizen_id, "read_consents")
        page = paginate(_consents_stmt(actor, citizen), args)
        page["items"] = consent_views(page["items"])
        return page

    @blp.arguments(ConsentCreateSchema)
    @blp.response(201, ConsentSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int, citizen_id: int):
        """Record a consent, or a change to one.

        Staff record a consent the citizen or a guardian gave in person or on paper; a
        citizen or guardian calling gives it online themselves. With replaces_id the new
        record changes a current one (409 if it was changed or withdrawn meanwhile)."""
        actor = _actor()
        citizen = citizen_in(collaboration_id, citizen_id)
        replaces = _replaced(data.pop("replaces_id", None))
        consent = operations.give_consent(actor, citizen, replaces=replaces, **data)
        return consent_views([consent])[0]


@blp.route("/<int:citizen_id>/consents/<int:consent_id>/withdraw")
class ConsentWithdraw(MethodView):
    @blp.arguments(ConsentWithdrawSchema)
    @blp.response(201, ConsentSchema)
    @blp.fails_with(403, 404, 409)
    def post(self, data, collaboration_id: int, citizen_id: int, consent_id: int):
        """Withdraw a consent, wholly or for one partner.

        A new record replaces it (201), and content about the citizen disappears for those
        partners on their next request. 409 if it was changed or withdrawn meanwhile."""
        actor = _actor()
        consent = consent_of(citizen_in(collaboration_id, citizen_id), consent_id)
        record = operations.withdraw_consent(actor, consent, **data)
        return consent_views([record])[0]


# -- routes: audit --------------------------------------------------------------------------

@blp.route("/<int:citizen_id>/audit")
class Audit(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AuditEventPageSchema)
    @blp.fails_with(403, 404)
    def get(self, args, collaboration_id: int, citizen_id: int):
        """The audit: who read what about the citizen, and every change.

        Reads of content about the citizen (which organization, when, through which channel)
        and every change to the record and its consents, newest first. For coordinators,
        the citizen and guardians."""
        actor = _actor()
        citizen = citizen_in(collaboration_id, citizen_id, "read_audit")
        page = paginate(_audit_stmt(actor, citizen), args)
        page["items"] = audit_views(actor, page["items"])
        return page


# -- routes: the citizen's own ----------------------------------------------------------------

def _mine(actor: Actor):
    """select(Citizen) of the citizens the actor is, or is a guardian of."""
    guarded = select(CitizenGuardian.citizen_id).where(CitizenGuardian.user_id == actor.user_id)
    return (policy.scoped(actor, Citizen)
            .where(or_(Citizen.user_id == actor.user_id, Citizen.id.in_(guarded)))
            .options(*CITIZEN_LOADS)
            .order_by(Citizen.collaboration_id, Citizen.pseudonym, Citizen.id))


@dataclass
class MyCitizenView(CitizenView):
    collaboration: Collaboration | None = None


def my_citizen_views(citizens: list[Citizen]) -> list[MyCitizenView]:
    """The citizen's own records (always identified), with their collaborations in one
    query."""
    ids = {c.collaboration_id for c in citizens}
    spaces = {c.id: c for c in db.session.scalars(
        select(Collaboration).where(Collaboration.id.in_(ids)))} if ids else {}
    return [MyCitizenView(c, True, spaces[c.collaboration_id]) for c in citizens]


@my_blp.route("")
class MyCitizens(MethodView):
    @my_blp.arguments(PageArgsSchema, location="query")
    @my_blp.response(200, MyCitizenPageSchema)
    def get(self, args):
        """The citizens the token's user is, or is a guardian of.

        Each with its collaboration: use its id for the consent and audit routes under
        /collaborations/{id}/citizens/{citizen_id}."""
        page = paginate(_mine(_actor()), args)
        page["items"] = my_citizen_views(page["items"])
        return page


@my_blp.route("/<int:citizen_id>/export")
class MyCitizenExport(MethodView):
    @my_blp.response(200, CitizenDownloadSchema)
    @my_blp.fails_with(404)
    def get(self, citizen_id: int):
        """Download everything recorded about the citizen.

        One JSON document, the same as the self-service page's download: the record, the
        consent history, the access log and other events, and the content about the
        citizen. The download itself is audited (channel export)."""
        actor = _actor()
        citizen = db.session.scalar(_mine(actor).where(Citizen.id == citizen_id))
        if citizen is None or not policy.may(actor, "download", citizen):
            raise NotFound()
        audit.record(actor, citizen, AuditAction.DOWNLOADED, object_type="citizen",
                     object_id=citizen.id, channel=Channel.EXPORT)
        db.session.flush()
        document = json.dumps(selfservice.record_of(actor, citizen), ensure_ascii=False)
        db.session.commit()
        return Response(document, mimetype="application/json",
                        headers={"Cache-Control": "no-store"})
