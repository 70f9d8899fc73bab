"""Settings of the installation that administrators change in the admin area, not in the
environment: who may start a collaboration."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.common import Choice, UTCDateTime, enum_column, utcnow
from coprod.extensions import db


class CollaborationCreators(Choice):
    """Who may start a collaboration (administrators always may)."""

    STAFF = "staff", _l("Everyone except citizens and guardians")
    ORGANIZATIONS = "organizations", _l(
        "Administrators, and the coordinators and staff of the listed organizations")
    ADMINISTRATORS = "administrators", _l("Administrators only")


creator_organizations = Table(
    "collaboration_creator_organizations", db.metadata,
    Column("settings_id", ForeignKey("installation_settings.id", ondelete="CASCADE"),
           primary_key=True),
    Column("organization_id", ForeignKey("organizations.id", ondelete="CASCADE"),
           primary_key=True),
)


class InstallationSettings(db.Model):
    """One row (id 1), made on the first change; without it every setting is its default."""

    __tablename__ = "installation_settings"
    ROW_ID = 1

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_creators: Mapped[CollaborationCreators] = mapped_column(
        enum_column(CollaborationCreators, "collaboration_creators"),
        default=CollaborationCreators.STAFF, server_default="staff")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    creator_organizations: Mapped[list[Organization]] = relationship(  # noqa: F821
        secondary=creator_organizations, order_by="Organization.name")
