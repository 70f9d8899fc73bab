"""The service map of a collaboration: activities in order, who performs them, and which
categories of information flow from one partner to another at each activity.

Words follow docs/domain.md: an activity is a sub-process of the service; one that is co-produced is
done together with citizens. Information categories are the collaboration's own (contact
details, support needs, ...); the need-to-know rules for citizens build on these flows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db
from coprod.spaces.models import Partner

NAME_MAX = 200
CATEGORY_NAME_MAX = 100
DESCRIPTION_MAX = 2000


class InformationCategory(db.Model):
    """A kind of information the collaboration's partners exchange about the people served."""

    __tablename__ = "information_categories"
    __table_args__ = (UniqueConstraint("collaboration_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<InformationCategory {self.id} {self.name}>"


class ActivityPerformer(db.Model):
    """A partner that performs an activity (many partners per activity, many activities each)."""

    __tablename__ = "activity_performers"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, index=True)


class Activity(db.Model):
    """One step of the service, in the order the collaboration gives (`position`, from 1)."""

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_collaboration_position", "collaboration_id",
                            "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    co_produced: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    performers: Mapped[list[Partner]] = relationship(
        secondary="activity_performers", order_by=Partner.id)
    flows: Mapped[list[InformationFlow]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", passive_deletes=True,
        order_by="InformationFlow.id")

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.position}. {self.name}>"


class InformationFlowCategory(db.Model):
    """One category of information carried by a flow."""

    __tablename__ = "information_flow_categories"

    flow_id: Mapped[int] = mapped_column(
        ForeignKey("information_flows.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("information_categories.id", ondelete="CASCADE"), primary_key=True,
        index=True)


class InformationFlow(db.Model):
    """At an activity, information of some categories passes from one partner to another."""

    __tablename__ = "information_flows"
    __table_args__ = (CheckConstraint("from_partner_id <> to_partner_id", name="two_partners"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    from_partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    to_partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    activity: Mapped[Activity] = relationship(back_populates="flows")
    from_partner: Mapped[Partner] = relationship(foreign_keys=[from_partner_id])
    to_partner: Mapped[Partner] = relationship(foreign_keys=[to_partner_id])
    categories: Mapped[list[InformationCategory]] = relationship(
        secondary="information_flow_categories", order_by=InformationCategory.name)

    def __repr__(self) -> str:
        return f"<InformationFlow {self.id} {self.from_partner_id}->{self.to_partner_id}>"
