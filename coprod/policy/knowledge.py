"""Keep PartnerKnowledge in step with its definition, in the flush that changes what it reads.

What a partner may know of a citizen depends on consents, the citizen (erasure, activities)
and the service map (performers, flows and their categories). Rather than trust every
operation to remember, one session hook sees every flush: it collects the citizens (or the
whole collaborations, for a change to the map) that the flushed objects touch, and
recomputes their rows from `consent.knowledge_rows()` in the same transaction. Relationship
collections (a consent's partners, a flow's categories) change their owner, so the owner
is among the flushed objects too. Bulk SQL that bypasses the ORM must call `refresh()`.
"""

from __future__ import annotations

from sqlalchemy import delete, event, insert, select
from sqlalchemy.orm import Session


def _models():
    from coprod.citizens import models as citizens
    from coprod.servicemap import models as servicemap
    from coprod.spaces.models import Partner

    return citizens, servicemap, Partner


def refresh(connection, *, citizen_ids=(), collaboration_ids=()) -> None:
    """Recompute the rows of these citizens and of every citizen of these collaborations."""
    from coprod.policy.consent import knowledge_rows

    c, _, _ = _models()
    citizen_ids, collaboration_ids = set(citizen_ids), set(collaboration_ids)
    if not citizen_ids and not collaboration_ids:
        return
    chosen = select(c.Citizen.id).where(
        c.Citizen.id.in_(citizen_ids) | c.Citizen.collaboration_id.in_(collaboration_ids))
    k = c.PartnerKnowledge
    connection.execute(delete(k).where(k.citizen_id.in_(chosen)))
    rows = knowledge_rows().where(c.Consent.citizen_id.in_(chosen))
    connection.execute(insert(k).from_select(
        ["consent_id", "citizen_id", "partner_id", "category_id", "starts_at", "ends_at"],
        rows))


def _touched(session) -> tuple[set[int], set[int], set[int], set[int], set[int]]:
    """(citizen, consent, activity, flow, collaboration ids) the flush changed."""
    c, m, Partner = _models()
    citizens, consents, activities, flows, collaborations = set(), set(), set(), set(), set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (c.Consent, c.CitizenActivity)):
            citizens.add(obj.citizen_id)
        elif isinstance(obj, c.Citizen):
            citizens.add(obj.id)
        elif isinstance(obj, (c.ConsentPartner, c.ConsentCategory)):
            consents.add(obj.consent_id)
        elif isinstance(obj, (m.ActivityPerformer,)):
            activities.add(obj.activity_id)
        elif isinstance(obj, m.InformationFlowCategory):
            flows.add(obj.flow_id)
        elif isinstance(obj, (m.Activity, m.InformationFlow, m.InformationCategory, Partner)):
            collaborations.add(obj.collaboration_id)
    return citizens, consents, activities, flows, collaborations


@event.listens_for(Session, "after_flush")
def _keep_knowledge(session, flush_context) -> None:
    """Recompute what the flush may have changed (before the transaction can commit)."""
    c, m, _ = _models()
    citizens, consents, activities, flows, collaborations = _touched(session)
    if not (citizens or consents or activities or flows or collaborations):
        return
    connection = session.connection()
    if consents:
        citizens |= set(connection.scalars(
            select(c.Consent.citizen_id).where(c.Consent.id.in_(consents))))
    if activities:
        collaborations |= set(connection.scalars(
            select(m.Activity.collaboration_id).where(m.Activity.id.in_(activities))))
    if flows:
        collaborations |= set(connection.scalars(
            select(m.InformationFlow.collaboration_id).where(m.InformationFlow.id.in_(flows))))
    refresh(connection, citizen_ids=citizens - {None},
            collaboration_ids=collaborations - {None})
