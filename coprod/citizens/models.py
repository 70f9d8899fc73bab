"""Citizens, their consents, the content that references them, and the audit of both.

Words follow docs/domain.md and HL7 FHIR Consent. A citizen is a person the collaboration serves,
known to partners by a pseudonym; the name and details are shown only where the policy allows.
The citizen's *service* is the activities of the service map they take part in: a partner that
performs one, or receives an information flow at one, has a need to know.

A consent is given by the citizen or a guardian and permits named partner organizations to
receive named information categories, for a purpose, over a period. Consents are never edited:
a change or a withdrawal is a new record that replaces the one before (`replaces_id`), so the
current consents are the records nothing replaces, and the history is the whole chain.

The audit records every read of citizen-referencing content and every consent change. Both
consents and audit events are append-only: the database refuses UPDATE and DELETE on them
(triggers in migration 0004), and so does the ORM (coprod.citizens.audit).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.accounts.models import User
from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db
from coprod.messages.models import Message
from coprod.reflections.models import Reflection, Reply
from coprod.servicemap.models import Activity, InformationCategory
from coprod.spaces.models import Partner

PSEUDONYM_MAX = 80
NAME_MAX = 200
DETAILS_MAX = 5000
PURPOSE_MAX = 2000


class ConsentGiver(Choice):
    CITIZEN = "citizen", _l("The citizen")
    GUARDIAN = "guardian", _l("A guardian")


class ConsentMethod(Choice):
    IN_PERSON = "in_person", _l("In person")
    PAPER = "paper", _l("On paper")
    ONLINE = "online", _l("Online")


class ConsentStatus(Choice):
    """FHIR's provision type: a record permits, or it withdraws the one it replaces."""

    PERMIT = "permit", _l("Given")
    WITHDRAWN = "withdrawn", _l("Withdrawn")


class AuditAction(Choice):
    READ = "read", _l("Read")
    CITIZEN_CREATED = "citizen_created", _l("Citizen recorded")
    CITIZEN_UPDATED = "citizen_updated", _l("Citizen record changed")
    CITIZEN_ERASED = "citizen_erased", _l("Citizen erased")
    CONSENT_GIVEN = "consent_given", _l("Consent given")
    CONSENT_CHANGED = "consent_changed", _l("Consent changed")
    CONSENT_WITHDRAWN = "consent_withdrawn", _l("Consent withdrawn")
    DOWNLOADED = "downloaded", _l("Record downloaded")


class Channel(Choice):
    PAGE = "page", _l("Web page")
    API = "api", _l("API")
    EXPORT = "export", _l("Export")
    DIGEST = "digest", _l("Digest")


class CitizenGuardian(db.Model):
    """A user account that acts for a citizen (parent, legal guardian)."""

    __tablename__ = "citizen_guardians"

    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class CitizenActivity(db.Model):
    """An activity of the service map this citizen takes part in (their service)."""

    __tablename__ = "citizen_activities"

    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True, index=True)


class Citizen(db.Model):
    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("collaboration_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(PSEUDONYM_MAX))
    # None once erased: the row stays only as the key the kept consents and audit point at.
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    details: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    guardians: Mapped[list[User]] = relationship(
        secondary="citizen_guardians", order_by=User.id)
    activities: Mapped[list[Activity]] = relationship(
        secondary="citizen_activities", order_by=Activity.position)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def guardian_ids(self) -> set[int]:
        return {u.id for u in self.guardians}

    def __repr__(self) -> str:
        return f"<Citizen {self.id} {self.pseudonym}>"


class ConsentPartner(db.Model):
    __tablename__ = "consent_partners"

    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), primary_key=True, index=True)


class ConsentCategory(db.Model):
    __tablename__ = "consent_categories"

    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("information_categories.id", ondelete="RESTRICT"), primary_key=True,
        index=True)


class Consent(db.Model):
    """One record of a citizen's consent; never edited (see the module docstring)."""

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="period_order"),
        # The next period to start or end: until then a kept page stays true (pagecache).
        Index("ix_consents_starts_at", "starts_at"),
        Index("ix_consents_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="RESTRICT"), index=True)
    status: Mapped[ConsentStatus] = mapped_column(enum_column(ConsentStatus, "consent_status"))
    # The record this one changes or withdraws; each record is replaced at most once.
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("consents.id", ondelete="RESTRICT"), unique=True)
    given_by: Mapped[ConsentGiver] = mapped_column(enum_column(ConsentGiver, "consent_giver"))
    given_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    given_by_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    method: Mapped[ConsentMethod] = mapped_column(enum_column(ConsentMethod, "consent_method"))
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    purpose: Mapped[str] = mapped_column(Text, default="")
    # The period, as instants: the start of the first local day, the end of the last one.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    citizen: Mapped[Citizen] = relationship()
    partners: Mapped[list[Partner]] = relationship(
        secondary="consent_partners", order_by=Partner.id)
    categories: Mapped[list[InformationCategory]] = relationship(
        secondary="consent_categories", order_by=InformationCategory.name)
    given_by_user: Mapped[User | None] = relationship(foreign_keys=[given_by_user_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    def in_force(self, now: datetime) -> bool:
        """Whether this record's period covers `now` (replacement is checked elsewhere)."""
        return (self.status == ConsentStatus.PERMIT and self.starts_at <= now
                and (self.ends_at is None or now < self.ends_at))


class PartnerKnowledge(db.Model):
    """What a partner organization may know of a citizen, kept by the policy for SQL filters.

    One row per (consent, partner, category) of a consent record that nothing replaced, that
    permits, of a citizen not erased, where the partner has a need to know (the service map).
    The consent's period is copied, so time alone (a period starting or ending) needs no
    update: a filter asks for rows whose period covers now. The rows are recomputed from
    their definition in the flush that changes a consent, a citizen, or the service map
    (coprod/policy/knowledge.py); per-object checks read the definition itself, and the
    random worlds of tests/policy check that both agree.
    """

    __tablename__ = "partner_knowledge"
    __table_args__ = (
        Index("ix_partner_knowledge_reach", "citizen_id", "category_id", "partner_id"),
        Index("ix_partner_knowledge_partner", "partner_id", "citizen_id"),
    )

    consent_id: Mapped[int] = mapped_column(
        ForeignKey("consents.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("information_categories.id", ondelete="CASCADE"), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CitizenReferenceCategory(db.Model):
    __tablename__ = "citizen_reference_categories"

    reference_id: Mapped[int] = mapped_column(
        ForeignKey("citizen_references.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("information_categories.id", ondelete="RESTRICT"), primary_key=True,
        index=True)


class CitizenReference(db.Model):
    """A reflection, reply or message that is about a citizen, with the categories it holds."""

    __tablename__ = "citizen_references"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN reflection_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN reply_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN message_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    reflection_id: Mapped[int | None] = mapped_column(
        ForeignKey("reflections.id", ondelete="CASCADE"), unique=True)
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("replies.id", ondelete="CASCADE"), unique=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    citizen: Mapped[Citizen] = relationship()
    categories: Mapped[list[InformationCategory]] = relationship(
        secondary="citizen_reference_categories", order_by=InformationCategory.name)
    # Each piece of content also knows its reference (or None) as `.citizen_reference`, a
    # read-only relationship declared on the content's model (see CONTENT_REFERENCE_LOAD).
    reflection: Mapped[Reflection | None] = relationship()
    reply: Mapped[Reply | None] = relationship()
    message: Mapped[Message | None] = relationship()

    @property
    def category_ids(self) -> set[int]:
        return {c.id for c in self.categories}


class AuditEvent(db.Model):
    """Who (user, organization) did what to which citizen's information, when, and how."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    collaboration_id: Mapped[int] = mapped_column(ForeignKey("collaborations.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    action: Mapped[AuditAction] = mapped_column(enum_column(AuditAction, "audit_action"))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel, "audit_channel"))
    # What was read or changed: "reflection", "reply", "message", "consent", "citizen".
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int | None] = mapped_column()

    user: Mapped[User | None] = relationship()
    partner: Mapped[Partner | None] = relationship()


class ConsentFriction(db.Model):
    """A post about a citizen refused because part of its audience lacked need-to-know or
    consent: the digest's "data-protection friction" signal counts these. It names partners
    and categories, never the content, and is written even though the post is not."""

    __tablename__ = "consent_frictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
