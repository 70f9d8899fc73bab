"""Organizations and the collaboration spaces they share: partners, members, the charter.

Words follow docs/domain.md: a collaboration's purpose, remit and interdependence; each partner's
responsibilities and resources; members with one role each.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.accounts.models import Role, User
from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db


class Sector(Choice):
    PUBLIC = "public", _l("Public")
    PRIVATE = "private", _l("Private")
    THIRD_SECTOR = "third_sector", _l("Third sector")
    CITIZEN_GROUP = "citizen_group", _l("Citizen group")


class Purpose(Choice):
    EFFICIENCY = "efficiency", _l("Efficiency strategy")
    REPACKAGING = "repackaging", _l("Repackaging of existing services")
    NEW_SERVICE = "new_service", _l("A new service")


class RemitKind(Choice):
    SOCIAL_GROUP = "social_group", _l("A social group")
    SECTOR = "sector", _l("A sector")


class Interdependence(Choice):
    POOLED = "pooled", _l("Pooled: each contributes to a common pool")
    SEQUENTIAL = "sequential", _l("Sequential: one's output is the next one's input")
    RECIPROCAL = "reciprocal", _l("Reciprocal: back and forth")


class CollaborationStatus(Choice):
    ACTIVE = "active", _l("Active")
    ARCHIVED = "archived", _l("Archived")


class ResponsibilityKind(Choice):
    STRATEGIC = "strategic", _l("Strategic")
    OPERATIONAL = "operational", _l("Operational")


class Tangibility(Choice):
    TANGIBLE = "tangible", _l("Tangible")
    INTANGIBLE = "intangible", _l("Intangible")
    BOTH = "both", _l("Both")


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[Sector] = mapped_column(enum_column(Sector, "sector"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name}>"


class Collaboration(db.Model):
    __tablename__ = "collaborations"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[Purpose] = mapped_column(enum_column(Purpose, "purpose"))
    remit_kind: Mapped[RemitKind] = mapped_column(enum_column(RemitKind, "remit_kind"))
    remit: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    interdependence: Mapped[Interdependence | None] = mapped_column(
        enum_column(Interdependence, "interdependence")
    )
    status: Mapped[CollaborationStatus] = mapped_column(
        enum_column(CollaborationStatus, "status"), default=CollaborationStatus.ACTIVE
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    partners: Mapped[list[Partner]] = relationship(
        back_populates="collaboration", cascade="all, delete-orphan", order_by="Partner.id"
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="collaboration", cascade="all, delete-orphan"
    )
    charter: Mapped[Charter | None] = relationship(
        back_populates="collaboration", cascade="all, delete-orphan", uselist=False
    )

    @property
    def is_archived(self) -> bool:
        return self.status == CollaborationStatus.ARCHIVED


def with_collaboration(statement, from_table, collaboration_id):
    """`statement` (whose FROM starts at `from_table`) with the collaboration whose id is
    `collaboration_id` (a bound parameter), as much of it as a post needs (_kept_columns),
    added last, NULLs when there is none: a request that needs it reads it with another row
    it needs anyway. Give those columns to keep_loaded()."""
    table = Collaboration.__table__
    return (statement.add_columns(*_kept_columns())
            .join_from(from_table, table, table.c.id == collaboration_id, isouter=True))


def _kept_columns():
    """The collaboration's columns a post reads: its id and status (the policy's check).
    The rest load on use, one statement, only when a refused form is shown again."""
    columns = Collaboration.__table__.c
    return (columns.id, columns.status)


def keep_loaded(row) -> Collaboration | None:
    """The collaboration whose columns with_collaboration() read (the first ones of `row`),
    in the session as if loaded: Session.get (policy.get_or_404) answers it without a
    statement; its columns not read, and what it relates to, load on use as usual (the
    columns all at once: SQLAlchemy expires what make_transient_to_detached() was not given).
    None when there was none.
    The request holds it (on g): the session's identity map holds its objects weakly."""
    from flask import g
    from sqlalchemy import inspect
    from sqlalchemy.orm import make_transient_to_detached
    from sqlalchemy.orm.attributes import set_committed_value

    if row[0] is None:
        return None
    session, mapper = db.session(), inspect(Collaboration)
    held = session.identity_map.get(mapper.identity_key_from_primary_key((row[0],)))
    if held is not None:  # the session has it already, as it stands in this transaction
        return held
    # The values set as loaded ones, not through the constructor as changes to undo again.
    collaboration = mapper.class_manager.new_instance()
    for column, value in zip(_kept_columns(), row, strict=False):
        set_committed_value(collaboration, column.key, value)
    make_transient_to_detached(collaboration)
    session.add(collaboration)
    g.coprod_kept_collaboration = collaboration
    return collaboration


class Partner(db.Model):
    """An organization taking part in one collaboration."""

    __tablename__ = "partners"
    __table_args__ = (UniqueConstraint("collaboration_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    collaboration: Mapped[Collaboration] = relationship(back_populates="partners")
    organization: Mapped[Organization] = relationship(lazy="joined")
    responsibilities: Mapped[list[Responsibility]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", order_by="Responsibility.id"
    )
    resources: Mapped[list[Resource]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", order_by="Resource.id"
    )

    @property
    def name(self) -> str:
        return self.organization.name


class Responsibility(db.Model):
    __tablename__ = "responsibilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ResponsibilityKind] = mapped_column(
        enum_column(ResponsibilityKind, "responsibility_kind")
    )
    description: Mapped[str] = mapped_column(Text)

    partner: Mapped[Partner] = relationship(back_populates="responsibilities")


class Resource(db.Model):
    """A resource or capability a partner brings: equipment, places, know-how."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    tangibility: Mapped[Tangibility] = mapped_column(enum_column(Tangibility, "tangibility"))
    description: Mapped[str] = mapped_column(Text)

    partner: Mapped[Partner] = relationship(back_populates="resources")


class Membership(db.Model):
    """A user in a collaboration with one role; partner staff act on behalf of one partner."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("collaboration_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partners.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    collaboration: Mapped[Collaboration] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships", lazy="joined")
    partner: Mapped[Partner | None] = relationship(lazy="joined")


class Charter(db.Model):
    """The four questions of docs/domain.md, answered once per collaboration."""

    __tablename__ = "charters"
    QUESTIONS = (
        ("why", _l("Why do we collaborate?")),
        ("resources", _l("Which complementary resources bind us, and how?")),
        ("assets", _l("Which digital tools and meeting places do we share?")),
        ("routines", _l("How do we keep our knowledge-sharing routines?")),
    )

    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), primary_key=True
    )
    why: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[str] = mapped_column(Text, default="")
    assets: Mapped[str] = mapped_column(Text, default="")
    routines: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    collaboration: Mapped[Collaboration] = relationship(back_populates="charter")
    updated_by: Mapped[User | None] = relationship()
    revisions: Mapped[list[CharterRevision]] = relationship(
        cascade="all, delete-orphan", order_by="CharterRevision.version.desc()"
    )


class CharterRevision(db.Model):
    """One saved state of a charter, kept so members can see who changed what, when."""

    __tablename__ = "charter_revisions"
    __table_args__ = (UniqueConstraint("collaboration_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("charters.collaboration_id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column()
    why: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[str] = mapped_column(Text, default="")
    assets: Mapped[str] = mapped_column(Text, default="")
    routines: Mapped[str] = mapped_column(Text, default="")
    edited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    edited_by: Mapped[User | None] = relationship()
