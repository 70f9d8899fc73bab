"""Reads of the service map, through the policy, in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from coprod import policy
from coprod.extensions import db
from coprod.policy import Actor
from coprod.servicemap.models import Activity, InformationCategory, InformationFlow
from coprod.spaces.models import Collaboration


@dataclass
class ServiceMap:
    """A collaboration's activities in order (performers and flows loaded) and its categories."""

    activities: list[Activity]
    categories: list[InformationCategory]

    @property
    def flow_count(self) -> int:
        return sum(len(a.flows) for a in self.activities)


def activities_of(actor: Actor, collaboration: Collaboration) -> list[Activity]:
    """The activities the actor may read, in order, with performers and flows at hand."""
    flows = selectinload(Activity.flows)
    query = (policy.scoped(actor, Activity)
             .where(Activity.collaboration_id == collaboration.id)
             .order_by(Activity.position, Activity.id)
             .options(selectinload(Activity.performers),
                      flows.selectinload(InformationFlow.from_partner),
                      flows.selectinload(InformationFlow.to_partner),
                      flows.selectinload(InformationFlow.categories)))
    return list(db.session.scalars(query))


def categories_of(actor: Actor, collaboration: Collaboration) -> list[InformationCategory]:
    """The collaboration's information categories, by name."""
    query = (policy.scoped(actor, InformationCategory)
             .where(InformationCategory.collaboration_id == collaboration.id)
             .order_by(InformationCategory.name))
    return list(db.session.scalars(query))


def service_map(actor: Actor, collaboration: Collaboration) -> ServiceMap:
    """Everything the map page and the API show."""
    return ServiceMap(activities_of(actor, collaboration), categories_of(actor, collaboration))
