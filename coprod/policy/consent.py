"""Need-to-know and consent: may a partner organization know this about this citizen?

A partner P may know information of category k about citizen X now when both hold:

- need to know: P performs an activity of X's service, or receives an information flow
  carrying k at one of those activities (the service map says so);
- consent: a consent record of X that nothing has replaced, that permits, whose period
  covers now, names P and names k.

Content that references X with categories K (a reflection, reply or message) reaches a member
only if the member's partner organization in that collaboration may know every k in K. Members
without a partner organization (coordinators who speak for none, citizens, observers) never
see it; coordinators are not exempt. Everything is answered twice from one definition: per
object in Python and as an SQL clause for lists; tests/policy checks both agree.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, false, or_, select, true, tuple_
from sqlalchemy.orm import aliased

from coprod.common import utcnow
from coprod.extensions import db
from coprod.policy.grants import Grant, with_values


def _m():
    from coprod.citizens import models

    return models


def now() -> datetime:
    """The instant consent periods are judged against (one per call, never cached)."""
    return utcnow()


# -- SQL ------------------------------------------------------------------------------------

def _need_pairs():
    """(citizen, partner): the partner performs an activity of the citizen's service."""
    from coprod.servicemap.models import ActivityPerformer

    m = _m()
    return (select(m.CitizenActivity.citizen_id, ActivityPerformer.partner_id)
            .join(ActivityPerformer,
                  ActivityPerformer.activity_id == m.CitizenActivity.activity_id))


def _need_by_flow():
    """(citizen, partner, category): the partner receives that category at the service."""
    from coprod.servicemap.models import InformationFlow, InformationFlowCategory

    m = _m()
    return (select(m.CitizenActivity.citizen_id, InformationFlow.to_partner_id,
                   InformationFlowCategory.category_id)
            .join(InformationFlow, InformationFlow.activity_id == m.CitizenActivity.activity_id)
            .join(InformationFlowCategory, InformationFlowCategory.flow_id == InformationFlow.id))


def current_consents(at: datetime):
    """SQL: consent records in force at `at` (permitting, in period, not replaced)."""
    m = _m()
    return and_(_permitting_unreplaced(), m.Consent.starts_at <= at,
                or_(m.Consent.ends_at.is_(None), m.Consent.ends_at > at))


def _permitting_unreplaced():
    m = _m()
    later = aliased(m.Consent)
    return and_(m.Consent.status == m.ConsentStatus.PERMIT,
                ~exists().where(later.replaces_id == m.Consent.id))


def knowledge_rows():
    """SELECT (consent, citizen, partner, category, starts_at, ends_at): the definition of
    what a partner may know, whatever the time; a row counts while its period covers now.

    Uncorrelated (tuple IN): it can be nested at any depth without correlation surprises.
    """
    from coprod.spaces.models import Partner

    m = _m()
    return (
        select(m.Consent.id.label("consent_id"), m.Consent.citizen_id,
               m.ConsentPartner.partner_id, m.ConsentCategory.category_id,
               m.Consent.starts_at, m.Consent.ends_at)
        .join(m.ConsentPartner, m.ConsentPartner.consent_id == m.Consent.id)
        .join(m.ConsentCategory, m.ConsentCategory.consent_id == m.Consent.id)
        .join(m.Citizen, m.Citizen.id == m.Consent.citizen_id)
        .join(Partner, Partner.id == m.ConsentPartner.partner_id)
        .where(
            _permitting_unreplaced(),
            m.Citizen.erased_at.is_(None),
            Partner.collaboration_id == m.Citizen.collaboration_id,
            or_(tuple_(m.Consent.citizen_id, m.ConsentPartner.partner_id).in_(_need_pairs()),
                tuple_(m.Consent.citizen_id, m.ConsentPartner.partner_id,
                       m.ConsentCategory.category_id).in_(_need_by_flow())),
        )
    )


def known_triples(at: datetime, partner_ids=None):
    """SELECT (citizen_id, partner_id, category_id) a partner may know at `at`, from the
    definition (per-object checks use it; SQL filters read the PartnerKnowledge rows)."""
    m = _m()
    rows = knowledge_rows().where(m.Consent.starts_at <= at,
                                  or_(m.Consent.ends_at.is_(None), m.Consent.ends_at > at))
    if partner_ids is not None:
        rows = rows.where(m.ConsentPartner.partner_id.in_(list(partner_ids)))
    return rows.with_only_columns(m.Consent.citizen_id, m.ConsentPartner.partner_id,
                                  m.ConsentCategory.category_id)


def knowledge_in_force(at: datetime, partner_ids: list[int]):
    """SQL over PartnerKnowledge: rows of these partners whose period covers `at`. One shape
    whatever the partners (an expanding IN), so SQLAlchemy's compiled cache serves it."""
    k = _m().PartnerKnowledge
    return and_(k.partner_id.in_(partner_ids), k.starts_at <= at,
                or_(k.ends_at.is_(None), k.ends_at > at))


def content_clause(actor, subject_column, at: datetime | None = None):
    """SQL: the content whose id is `subject_column` (Reflection.id, Reply.id or Message.id)
    references no citizen, or one the actor's partner organization may know of: every
    category of the reference known to one of the actor's partners (a reference without
    categories says something without saying what, so no consent can cover it).

    The clause has one shape per kind of content, built once per process; an actor's
    partners and the instant enter as bound values (`params`), so a request neither builds
    the clause again nor makes SQLAlchemy compile a new statement shape. The instant is
    taken when the statement runs (`now` is called then), so the copy for a set of partners
    is kept for every request (grants.with_values)."""
    if actor.is_system:
        return true()
    partner_ids = _partner_ids(actor)
    table = subject_column.table
    key = (table.name, getattr(table, "original", table).name, subject_column.key)
    if not partner_ids:
        return _no_reference_clause(*key, subject_column)
    return with_values(_content_clause(*key, subject_column),
                       policy_partner_ids=partner_ids, policy_at=at or now)


@functools.cache
def _no_reference_clause(name: str, table_name: str, column_key: str, subject_column):
    """SQL: the content references no citizen (what members without a partner read)."""
    reference = _m().CitizenReference.__table__.alias()
    return ~exists().where(reference.c[_LINKS[table_name]] == subject_column)


@functools.cache
def _content_clause(name: str, table_name: str, column_key: str, subject_column):
    m = _m()
    reference = m.CitizenReference.__table__.alias()
    one = m.CitizenReferenceCategory.__table__.alias()
    each = m.CitizenReferenceCategory.__table__.alias()
    k = m.PartnerKnowledge.__table__
    known = (select(k.c.consent_id).where(
        k.c.citizen_id == reference.c.citizen_id, k.c.category_id == each.c.category_id,
        k.c.partner_id.in_(bindparam("policy_partner_ids", expanding=True)),
        k.c.starts_at <= bindparam("policy_at", type_=k.c.starts_at.type),
        or_(k.c.ends_at.is_(None), k.c.ends_at > bindparam("policy_at")),
    ).correlate_except(k).exists())
    unknown_category = (select(each.c.reference_id).where(
        each.c.reference_id == reference.c.id, ~known).correlate_except(each).exists())
    no_category = ~exists().where(one.c.reference_id == reference.c.id)
    return ~exists().where(reference.c[_LINKS[table_name]] == subject_column,
                           or_(no_category, unknown_category))


_LINKS = {"reflections": "reflection_id", "replies": "reply_id", "messages": "message_id"}


def _partner_ids(actor) -> list[int]:
    return sorted({seat.partner_id for seat in actor.seats().values()
                   if seat.partner_id is not None})


# -- per object ------------------------------------------------------------------------------

def known_categories(citizen, partner_id: int | None, at: datetime) -> set[int]:
    """The categories of the citizen's information the partner may know at `at`."""
    m = _m()
    if partner_id is None or citizen.is_erased:
        return set()
    rows = db.session.execute(
        known_triples(at, [partner_id]).where(m.Consent.citizen_id == citizen.id)).all()
    return {category_id for _, _, category_id in rows}


def partner_knows(reference, partner_id: int | None, at: datetime | None = None) -> bool:
    """Whether the staff of a partner organization may see content with this reference."""
    wanted = reference.category_ids
    return bool(wanted) and wanted <= known_categories(reference.citizen, partner_id,
                                                       at or now())


def reads_content(actor, reference, at: datetime | None = None) -> bool:
    """The per-object reading of content_clause for one reference (None: no citizen).

    What a partner may know is worked out once per (citizen, partner) for the actor's
    lifetime (one request): a page of twenty items about one citizen costs one query.
    """
    if reference is None or actor.is_system:
        return True
    citizen = reference.citizen
    seat = actor.seat(citizen.collaboration_id)
    if seat is None or seat.partner_id is None:
        return False
    wanted = reference.category_ids
    if at is not None:
        return bool(wanted) and wanted <= known_categories(citizen, seat.partner_id, at)
    key = (citizen.id, seat.partner_id)
    if key not in actor.knowledge:
        actor.knowledge[key] = known_categories(citizen, seat.partner_id, now())
    return bool(wanted) and wanted <= actor.knowledge[key]


def reference_of(obj):
    """The citizen reference of a reflection, reply or message, or None (loaded once per
    object through its `citizen_reference` relationship)."""
    return obj.citizen_reference


def partners_lacking(citizen, category_ids: set[int], partner_ids, at: datetime | None = None
                     ) -> set[int]:
    """Of the given partners, those that may not know all the categories (for posting)."""
    at = at or now()
    return {p for p in partner_ids
            if not category_ids or not category_ids <= known_categories(citizen, p, at)}




# -- grants ----------------------------------------------------------------------------------

def need_partner_ids(citizen) -> set[int]:
    """Partners with a need to know of the citizen at all: they perform an activity of the
    citizen's service or receive a flow at one."""
    pairs = union_of_need(citizen_ids=[citizen.id])
    return {partner_id for _, partner_id in db.session.execute(pairs)}


def union_of_need(citizen_ids=None, partner_ids=None):
    """SELECT (citizen_id, partner_id) with a need to know (by performing or receiving)."""
    from sqlalchemy import union

    from coprod.servicemap.models import InformationFlow

    m = _m()
    performing = _need_pairs()
    receiving = (select(m.CitizenActivity.citizen_id, InformationFlow.to_partner_id)
                 .join(InformationFlow,
                       InformationFlow.activity_id == m.CitizenActivity.activity_id))
    if citizen_ids is not None:
        performing = performing.where(m.CitizenActivity.citizen_id.in_(list(citizen_ids)))
        receiving = receiving.where(m.CitizenActivity.citizen_id.in_(list(citizen_ids)))
    if partner_ids is not None:
        from coprod.servicemap.models import ActivityPerformer

        performing = performing.where(ActivityPerformer.partner_id.in_(list(partner_ids)))
        receiving = receiving.where(InformationFlow.to_partner_id.in_(list(partner_ids)))
    return union(performing, receiving)


class CitizenSubject(Grant):
    """The citizen themself or one of their guardians (through their own user account)."""

    def allows(self, actor, obj, scope):
        citizen = scope.citizen_of(obj)
        return actor.user_id is not None and (
            citizen.user_id == actor.user_id or actor.user_id in citizen.guardian_ids)

    def where(self, actor, scope):
        m = _m()
        if actor.user_id is None:
            return false()
        return scope.citizen_id_col().in_(
            select(m.Citizen.id).where(m.Citizen.user_id == actor.user_id).union(
                select(m.CitizenGuardian.citizen_id).where(
                    m.CitizenGuardian.user_id == actor.user_id)))


class PartnerNeedsToKnow(Grant):
    """Staff of a partner organization with a need to know of the citizen (service map)."""

    def __init__(self, *roles):
        from coprod.accounts.models import Role

        self.roles = frozenset(roles) if roles else frozenset(
            {Role.COORDINATOR, Role.PARTNER_STAFF})

    def allows(self, actor, obj, scope):
        citizen = scope.citizen_of(obj)
        seat = actor.seat(citizen.collaboration_id)
        if seat is None or seat.partner_id is None or seat.role not in self.roles:
            return False
        return seat.partner_id in need_partner_ids(citizen)

    def where(self, actor, scope):
        partners = [seat.partner_id for seat in actor.seats().values()
                    if seat.partner_id is not None and seat.role in self.roles]
        if not partners:
            return false()
        need = union_of_need(partner_ids=partners).subquery()
        return scope.citizen_id_col().in_(select(need.c.citizen_id))


class PartnerMayKnowCitizen(Grant):
    """Staff whose partner organization may know something of the citizen right now: a need
    to know and a consent in force for at least one category."""

    def allows(self, actor, obj, scope):
        citizen = scope.citizen_of(obj)
        seat = actor.seat(citizen.collaboration_id)
        return (seat is not None and seat.partner_id is not None
                and bool(known_categories(citizen, seat.partner_id, now())))

    def where(self, actor, scope):
        partners = _partner_ids(actor)
        if not partners:
            return false()
        k = _m().PartnerKnowledge
        # the instant is taken when the statement runs, so the filter may be kept (kept.py)
        at = bindparam("policy_known_at", callable_=now, type_=k.starts_at.type)
        return scope.citizen_id_col().in_(
            select(k.citizen_id).where(knowledge_in_force(at, partners)))


class CitizenNotErased(Grant):
    """A condition: the citizen has not been erased."""

    def allows(self, actor, obj, scope):
        return not scope.citizen_of(obj).is_erased

    def where(self, actor, scope):
        m = _m()
        return scope.citizen_id_col().in_(
            select(m.Citizen.id).where(m.Citizen.erased_at.is_(None)))


class CitizenContentKnown(Grant):
    """A condition on a reply or message: it references no citizen, or one the actor's
    partner organization may know of (reflections check this inside their visibility)."""

    def __init__(self, subject_column):
        self.subject_column = subject_column

    def allows(self, actor, obj, scope):
        return reads_content(actor, obj.citizen_reference)

    def where(self, actor, scope):
        return content_clause(actor, self.subject_column())
