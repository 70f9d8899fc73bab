"""What the API reads and writes, as marshmallow schemas; the OpenAPI document comes from them.

Input schemas refuse unknown fields (marshmallow's default, RAISE) and wrong types with 422.
Enums travel as their string values, timestamps as ISO 8601 in UTC.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate

from coprod import policy
from coprod.accounts.models import Role
from coprod.api.pagination import PageArgsSchema, page_schema
from coprod.mail import addresses
from coprod.spaces.models import (
    CollaborationStatus,
    Interdependence,
    Purpose,
    RemitKind,
    ResponsibilityKind,
    Sector,
    Tangibility,
)


class Timestamp(fields.DateTime):
    """An aware datetime, always written in UTC (2024-05-01T09:30:00+00:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).isoformat()


def choice(enum_cls, **kwargs) -> fields.Enum:
    """An enum field carrying the member's value ("new_service"), documented with all values."""
    return fields.Enum(enum_cls, by_value=fields.String, **kwargs)


def not_blank(value: str) -> None:
    """Spaces alone are no title, name or description."""
    if not value.strip():
        raise ValidationError(_("This cannot be blank."))


def known_timezone(value: str) -> None:
    """Prompts and digests are scheduled in this zone, so it must be a real one."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Use an IANA time zone name, such as Europe/Copenhagen."))


def email_address(value: str) -> None:
    """The one address check (coprod.mail.addresses), as on the pages and the command line."""
    try:
        addresses.clean_address(value)
    except addresses.AddressError:
        raise ValidationError(str(addresses.NOT_AN_ADDRESS)) from None


def text(max_length: int | None = None, **kwargs) -> fields.String:
    """A required-to-mean-something string: not blank, and not longer than max_length."""
    checks = [not_blank] + ([validate.Length(max=max_length)] if max_length else [])
    # The OpenAPI document states it: at least one character that is not white space.
    metadata = {"pattern": r"\S", "minLength": 1, **kwargs.pop("metadata", {})}
    return fields.String(validate=checks, metadata=metadata, **kwargs)


# -- people ---------------------------------------------------------------------------------

class UserSummarySchema(Schema):
    id = fields.Integer()
    display_name = fields.String()


class MeSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    locale = fields.String()
    timezone = fields.String()


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    display_prefix = fields.String(metadata={"description": "The secret's first characters, "
                                                            "to recognize the token."})
    active = fields.Boolean(attribute="is_active")
    created_at = Timestamp()
    last_used_at = Timestamp(allow_none=True)
    revoked_at = Timestamp(allow_none=True)


class NewTokenSchema(TokenSchema):
    secret = fields.String(metadata={
        "description": "The token to send as `Authorization: Bearer <secret>`. Shown only in "
                       "this answer; Coprod keeps only its hash."})


class TokenCreateSchema(Schema):
    name = text(80, required=True)


# -- organizations and collaborations -------------------------------------------------------

class OrganizationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    sector = choice(Sector)


def _my_role(collaboration) -> str | None:
    """From the actor's memberships, loaded once per request: no query per item."""
    seat = policy.current_actor().seat(collaboration.id)
    return seat.role.value if seat else None


class CollaborationSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    purpose = choice(Purpose)
    remit_kind = choice(RemitKind)
    remit = fields.String()
    description = fields.String()
    interdependence = choice(Interdependence, allow_none=True)
    status = choice(CollaborationStatus)
    timezone = fields.String()
    created_at = Timestamp()
    my_role = fields.Function(_my_role, metadata={
        "type": "string", "enum": [r.value for r in Role],
        "description": "The caller's role in this collaboration."})


class CollaborationCreateSchema(Schema):
    title = text(200, required=True)
    purpose = choice(Purpose, required=True)
    remit_kind = choice(RemitKind, required=True)
    remit = text(300, required=True)
    description = fields.String()
    interdependence = choice(Interdependence, allow_none=True)
    timezone = fields.String(validate=known_timezone)
    organization_id = fields.Integer(metadata={
        "description": "The caller's organization, one they know from their collaborations "
                       "(GET /organizations); it becomes the first partner."})
    organization_name = text(200, metadata={
        "description": "Or a new organization for the caller, by name (with its sector)."})
    organization_sector = choice(Sector)


class CollaborationUpdateSchema(Schema):
    title = text(200)
    purpose = choice(Purpose)
    remit_kind = choice(RemitKind)
    remit = text(300)
    description = fields.String()
    interdependence = choice(Interdependence, allow_none=True)
    timezone = fields.String(validate=known_timezone)
    status = choice(CollaborationStatus, metadata={
        "description": "archived closes the space to changes; active reopens it."})


class CollaborationListArgsSchema(PageArgsSchema):
    status = choice(CollaborationStatus, metadata={"description": "Only active or archived."})


# -- the charter ----------------------------------------------------------------------------

class CharterSchema(Schema):
    collaboration_id = fields.Integer()
    why = fields.String(metadata={"description": "Why do we collaborate?"})
    resources = fields.String(metadata={
        "description": "Which complementary resources bind us, and how?"})
    assets = fields.String(metadata={
        "description": "Which digital tools and meeting places do we share?"})
    routines = fields.String(metadata={
        "description": "How do we keep our knowledge-sharing routines?"})
    version = fields.Integer(metadata={"description": "Send it back as base_version to save."})
    updated_at = Timestamp(allow_none=True)
    updated_by = fields.Nested(UserSummarySchema, allow_none=True)


class CharterUpdateSchema(Schema):
    why = fields.String(required=True)
    resources = fields.String(required=True)
    assets = fields.String(required=True)
    routines = fields.String(required=True)
    base_version = fields.Integer(required=True, validate=validate.Range(min=0), metadata={
        "description": "The version the text was edited from; 409 if someone saved since."})


class CharterRevisionSchema(Schema):
    version = fields.Integer()
    why = fields.String()
    resources = fields.String()
    assets = fields.String()
    routines = fields.String()
    edited_at = Timestamp()
    edited_by = fields.Nested(UserSummarySchema, allow_none=True)


# -- partners -------------------------------------------------------------------------------

class ResponsibilitySchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = choice(ResponsibilityKind, required=True)
    description = text(required=True)


class ResourceSchema(Schema):
    id = fields.Integer(dump_only=True)
    tangibility = choice(Tangibility, required=True)
    description = text(required=True)


class PartnerSchema(Schema):
    id = fields.Integer()
    collaboration_id = fields.Integer()
    organization = fields.Nested(OrganizationSchema)
    joined_at = Timestamp()
    responsibilities = fields.List(fields.Nested(ResponsibilitySchema))
    resources = fields.List(fields.Nested(ResourceSchema))


class PartnerSummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PartnerCreateSchema(Schema):
    organization_id = fields.Integer(metadata={
        "description": "An organization the caller knows (GET /organizations)."})
    name = text(200, metadata={"description": "Or a new organization: its name ..."})
    sector = choice(Sector, metadata={"description": "... and its sector."})


class PartnerUpdateSchema(Schema):
    responsibilities = fields.List(fields.Nested(ResponsibilitySchema), metadata={
        "description": "Replaces the partner's responsibilities, if given."})
    resources = fields.List(fields.Nested(ResourceSchema), metadata={
        "description": "Replaces the partner's resources and capabilities, if given."})


# -- members and invitations ----------------------------------------------------------------

def _email_if_allowed(membership) -> str | None:
    """Addresses are personal: members see names and roles, coordinators also emails."""
    if policy.may(policy.current_actor(), "read_email", membership):
        return membership.user.email
    return None


class MemberSchema(Schema):
    id = fields.Integer()
    collaboration_id = fields.Integer()
    user = fields.Nested(UserSummarySchema)
    email = fields.Function(_email_if_allowed, metadata={
        "type": "string", "nullable": True,
        "description": "Shown to coordinators and to the member themself; null otherwise."})
    role = choice(Role)
    partner = fields.Nested(PartnerSummarySchema, allow_none=True, metadata={
        "description": "The partner organization the member acts on behalf of."})
    created_at = Timestamp()


class MemberUpdateSchema(Schema):
    role = choice(Role)
    partner_id = fields.Integer(allow_none=True, metadata={
        "description": "Required for partner_staff: the partner they work for."})


class InvitationSchema(Schema):
    id = fields.Integer()
    collaboration_id = fields.Integer()
    email = fields.String()
    role = choice(Role)
    partner = fields.Nested(PartnerSummarySchema, allow_none=True)
    message = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["pending", "accepted", "revoked", "expired"]})
    invited_by = fields.Nested(UserSummarySchema, allow_none=True)
    created_at = Timestamp()
    expires_at = Timestamp()
    accepted_at = Timestamp(allow_none=True)
    revoked_at = Timestamp(allow_none=True)


class InvitationCreateSchema(Schema):
    email = fields.String(required=True, validate=email_address, metadata={
        "format": "email", "maxLength": addresses.MAX_LENGTH})
    role = choice(Role, required=True)
    partner_id = fields.Integer(allow_none=True, metadata={
        "description": "Required for partner_staff: the partner they will work for."})
    message = fields.String(allow_none=True, validate=validate.Length(max=2000))


class BulkInvitationRowSchema(Schema):
    """One person to invite, as a line of the CSV would give them (strings, as written)."""

    email = fields.String(required=True, validate=validate.Length(max=254))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    partner = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "description": "The partner organization's name (or the partner's id); required "
                       "for partner_staff."})
    role = fields.String(load_default="", validate=validate.Length(max=64), metadata={
        "description": "A role's value or label (partner_staff, \"Partner staff\"); "
                       "partner_staff when empty."})


class BulkInvitationRowsSchema(Schema):
    rows = fields.List(fields.Nested(BulkInvitationRowSchema), required=True)


class BulkInvitationArgsSchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "Check the rows and answer the preview (200); send nothing."})


class BulkProblemSchema(Schema):
    code = fields.String(metadata={"enum": [
        "bad_email", "unknown_partner", "unknown_role", "partner_required", "duplicate",
        "already_member", "too_many_rows", "name_too_long", "unreadable", "refused"]})
    message = fields.String()


class BulkRowResultSchema(Schema):
    line = fields.Integer(metadata={"description": "The CSV line, or the row's number."})
    email = fields.String()
    name = fields.String()
    partner = fields.String()
    role = fields.String()
    problems = fields.List(fields.Nested(BulkProblemSchema))
    invitation_id = fields.Integer(allow_none=True, metadata={
        "description": "The invitation sent for this row (null in a dry run or if refused)."})


class BulkInvitationResultSchema(Schema):
    dry_run = fields.Boolean()
    valid = fields.Integer(metadata={"description": "Rows without a problem."})
    invalid = fields.Integer(metadata={"description": "Rows with a problem (left out)."})
    sent = fields.Integer(metadata={"description": "Invitations sent (0 in a dry run)."})
    rows = fields.List(fields.Nested(BulkRowResultSchema))


CollaborationPageSchema = page_schema(CollaborationSchema)
CharterRevisionPageSchema = page_schema(CharterRevisionSchema)
OrganizationPageSchema = page_schema(OrganizationSchema)
PartnerPageSchema = page_schema(PartnerSchema)
MemberPageSchema = page_schema(MemberSchema)
InvitationPageSchema = page_schema(InvitationSchema)
TokenPageSchema = page_schema(TokenSchema)
