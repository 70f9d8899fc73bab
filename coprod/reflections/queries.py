"""Reads of reflections, always through the policy's SQL filter, in a fixed number of queries.

The feed pages with a keyset cursor on (created_at, id), newest first, so a page costs the same
wherever it is and nothing is skipped or repeated while others post.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.orm import joinedload, selectinload

from coprod import policy
from coprod.citizens import audit
from coprod.common import UTC, UTCDateTime
from coprod.extensions import db
from coprod.inputs import DB_INT_MAX
from coprod.policy import Actor
from coprod.policy.actors import Seat
from coprod.policy.visibility import reads_reflection
from coprod.reflections.models import (
    FeedVisit,
    ImprovementAction,
    Mention,
    Reaction,
    Reflection,
    ReflectionRevision,
    ReflectionTag,
    Reply,
)
from coprod.spaces.models import Collaboration, Membership, Partner

PAGE_SIZE = 20
PAGE_SIZE_MAX = 100


@dataclass(frozen=True)
class FeedFilters:
    """What a reader narrows the feed to; None means no filter."""

    kind: str | None = None
    perspective: str | None = None
    component: str | None = None
    partner_id: int | None = None
    tag: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass
class FeedPage:
    items: list[Reflection]
    next_cursor: str | None
    unread_ids: set[int] = field(default_factory=set)
    reply_counts: dict[int, int] = field(default_factory=dict)
    reaction_counts: dict[int, int] = field(default_factory=dict)


class BadCursor(ValueError):
    """A cursor that was not made by encode_cursor."""


def encode_cursor(reflection: Reflection) -> str:
    raw = f"{reflection.created_at.isoformat()}|{reflection.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        when = datetime.fromisoformat(stamp)
        when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
        if not 1 <= int(ident) <= DB_INT_MAX:  # an id of ours is a PostgreSQL integer
            raise ValueError(ident)
        return when, int(ident)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(cursor) from None


def readable_reflections(actor: Actor, collaboration: Collaboration | None = None):
    """select(Reflection) of what the actor may read (in one collaboration if given)."""
    stmt = policy.scoped(actor, Reflection)
    if collaboration is not None:
        stmt = stmt.where(Reflection.collaboration_id == collaboration.id)
    return stmt


def local_midnight(day: date, zone: str | None) -> datetime:
    """The instant a day begins in a time zone (the collaboration's), as UTC; at the ends of
    the calendar (year 1, year 9999), where the zone's offset would leave it, UTC's."""
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    try:
        return datetime.combine(day, time.min, tz).astimezone(UTC)
    except OverflowError:
        return datetime.combine(day, time.min, UTC)


def apply_filters(stmt, filters: FeedFilters, zone: str | None = "UTC"):
    """The filters on a select of reflections. Days (since, until: both included) are those
    of `zone`, the collaboration's time zone, as a digest's periods are: a digest's link to
    its reflections selects exactly its period, and a reader in another zone gets the
    collaboration's days, the same for every member."""
    if filters.kind:
        stmt = stmt.where(Reflection.kind == filters.kind)
    if filters.perspective:
        stmt = stmt.where(Reflection.perspective == filters.perspective)
    if filters.component:
        stmt = stmt.where(Reflection.component == filters.component)
    if filters.partner_id:
        stmt = stmt.where(Reflection.partner_id == filters.partner_id)
    if filters.tag:
        stmt = stmt.where(Reflection.id.in_(select(ReflectionTag.reflection_id).where(
            ReflectionTag.name == filters.tag.strip().lower())))
    if filters.since:
        stmt = stmt.where(Reflection.created_at >= local_midnight(filters.since, zone))
    if filters.until and filters.until < date.max:  # the last day Python has: no bound
        stmt = stmt.where(Reflection.created_at < local_midnight(
            filters.until + timedelta(days=1), zone))
    return stmt


def citizen_loads(path):
    """Load the citizen reference of content (and what the policy reads of it) in bulk:
    `path` is the content's citizen_reference attribute, or a loader chain ending in it."""
    from coprod.citizens.models import CitizenReference

    return (path.selectinload(CitizenReference.citizen),
            path.selectinload(CitizenReference.categories))


# The author and the partner (one each, by primary key) come in the page's own query: a
# separate query each, for twenty rows, cost more than the join.
FEED_LOADS = (
    *citizen_loads(selectinload(Reflection.citizen_reference)),
    joinedload(Reflection.author),
    joinedload(Reflection.partner).joinedload(Partner.organization),
    selectinload(Reflection.tags),
    selectinload(Reflection.audience),
    selectinload(Reflection.action),
)


def feed(actor: Actor, collaboration: Collaboration, filters: FeedFilters | None = None, *,
         cursor: str | None = None, limit: int = PAGE_SIZE) -> FeedPage:
    """One page of the reflections the actor may read, newest first, with unread markers."""
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    stmt = apply_filters(readable_reflections(actor, collaboration), filters or FeedFilters(),
                         collaboration.timezone)
    if cursor:
        when, ident = decode_cursor(cursor)
        stmt = stmt.where(or_(Reflection.created_at < when,
                              and_(Reflection.created_at == when, Reflection.id < ident)))
    stmt = stmt.order_by(Reflection.created_at.desc(), Reflection.id.desc()).limit(limit + 1)
    items = list(db.session.scalars(stmt.options(*FEED_LOADS)))
    more = len(items) > limit
    audit.forget_reads("reflection", [r.id for r in items[limit:]])  # only tells of a next page
    items = items[:limit]
    page = FeedPage(items, encode_cursor(items[-1]) if more and items else None)
    ids = [r.id for r in items]
    if ids:
        page.reply_counts = reply_counts(actor, ids)
        page.reaction_counts = reaction_counts(ids)
        page.unread_ids = _unread(actor, collaboration, items)
    return page


def reply_counts(actor: Actor, reflection_ids: list[int]) -> dict[int, int]:
    """Replies per reflection (not withdrawn), in one query."""
    rows = db.session.execute(
        select(Reply.reflection_id, func.count()).where(
            Reply.reflection_id.in_(reflection_ids), Reply.withdrawn_at.is_(None),
            policy.where(actor, Reply, "read"))
        .group_by(Reply.reflection_id))
    return dict(rows.all())


def reaction_counts(reflection_ids: list[int]) -> dict[int, int]:
    """Partner organizations saying "we see this too", per reflection, in one query.

    The ids come from a policy-filtered list; a reaction is as readable as its reflection.
    """
    rows = db.session.execute(
        select(Reaction.reflection_id, func.count()).where(
            Reaction.reflection_id.in_(reflection_ids)).group_by(Reaction.reflection_id))
    return dict(rows.all())


def _unread(actor: Actor, collaboration: Collaboration, items: list[Reflection]) -> set[int]:
    """Reflections by others posted since the reader last looked at this feed."""
    visit = db.session.get(FeedVisit, (actor.user_id, collaboration.id))
    # Held for the request: marking the feed seen then finds it in the session (whose identity
    # map holds rows weakly) instead of reading it again.
    actor.memo[("feed_visit", collaboration.id)] = visit
    seen = visit.seen_at if visit is not None else None
    return {r.id for r in items
            if r.author_id != actor.user_id and (seen is None or r.created_at > seen)}


# The tab's badge counts this far and then says "99+": every page shows it, and counting a
# year of a municipality's reflections for a newcomer would cost more than the page.
UNREAD_COUNTED = 100


NEVER = datetime(1, 1, 1, tzinfo=UTC)  # before any reflection: a reader who never visited


def unread_count(actor: Actor, collaboration: Collaboration) -> int:
    """How many readable reflections by others are newer than the reader's last visit, up
    to UNREAD_COUNTED (newest first on the feed's index, so it stops early). The visit is one
    bound of the index's range (never visited: from the beginning), so a reader with nothing
    new reads no row; `seen IS NULL OR created_at > seen` had the index walk every
    reflection of the collaboration (100,000: about 15 ms) to find none."""
    seen = select(FeedVisit.seen_at).where(
        FeedVisit.user_id == actor.user_id,
        FeedVisit.collaboration_id == collaboration.id).scalar_subquery()
    stmt = readable_reflections(actor, collaboration).where(
        Reflection.author_id != actor.user_id,
        Reflection.created_at > func.coalesce(seen, literal(NEVER, UTCDateTime())))
    newest = (stmt.with_only_columns(Reflection.id)
              .order_by(Reflection.created_at.desc(), Reflection.id.desc())
              .limit(UNREAD_COUNTED))
    return db.session.scalar(select(func.count()).select_from(newest.subquery()))


def reflection_with_thread(actor: Actor, reflection_id: int) -> tuple[Reflection, list[Reply],
                                                                      list[Reaction]]:
    """A readable reflection (404 otherwise) with its replies and reactions, in fixed queries."""
    from coprod.citizens.models import CitizenReference

    # Its note about a citizen (the citizen, the categories) is read by the page and by the
    # mention list's policy checks: loaded with it, not one lazy query after another.
    reflection = policy.get_or_404(actor, Reflection, reflection_id, options=(
        joinedload(Reflection.citizen_reference).joinedload(CitizenReference.citizen),
        joinedload(Reflection.citizen_reference).selectinload(CitizenReference.categories)))
    replies = list(db.session.scalars(
        policy.scoped(actor, Reply).where(Reply.reflection_id == reflection.id)
        .order_by(Reply.created_at, Reply.id)
        .options(joinedload(Reply.author),
                 *citizen_loads(selectinload(Reply.citizen_reference)),
                 joinedload(Reply.partner).joinedload(Partner.organization))))
    reactions = list(db.session.scalars(
        select(Reaction).where(Reaction.reflection_id == reflection.id)
        .options(joinedload(Reaction.partner).joinedload(Partner.organization))
        .order_by(Reaction.created_at)))
    return reflection, replies, reactions


def actions_of(actor: Actor, collaboration: Collaboration, *, status=None
               ) -> list[ImprovementAction]:
    """The improvement actions the actor may read in a collaboration, soonest due first."""
    return list(db.session.scalars(select_actions(actor, collaboration, status=status)))


def select_actions(actor: Actor, collaboration: Collaboration, *, status=None):
    """select(ImprovementAction) behind actions_of, for callers that page it in SQL."""
    stmt = (policy.scoped(actor, ImprovementAction)
            .join(Reflection, ImprovementAction.reflection_id == Reflection.id)
            .where(Reflection.collaboration_id == collaboration.id)
            .options(selectinload(ImprovementAction.owner_partner).selectinload(
                Partner.organization), selectinload(ImprovementAction.owner_user),
                selectinload(ImprovementAction.reflection),
                *citizen_loads(selectinload(ImprovementAction.reflection).selectinload(
                    Reflection.citizen_reference)))
            .order_by(ImprovementAction.due_on.is_(None), ImprovementAction.due_on,
                      ImprovementAction.id))
    if status is not None:
        stmt = stmt.where(ImprovementAction.status == status)
    return stmt


def revisions_of(reflection: Reflection) -> list[ReflectionRevision]:
    """Earlier versions of a reflection the caller may read, newest first, with their editors."""
    return list(db.session.scalars(
        select(ReflectionRevision).where(ReflectionRevision.reflection_id == reflection.id)
        .options(selectinload(ReflectionRevision.edited_by))
        .order_by(ReflectionRevision.id.desc())))


def mentions_in(reflection: Reflection) -> dict[int | None, list]:
    """Who is mentioned in a reflection the caller may read (key None) and in each reply."""
    found: dict[int | None, list] = {}
    rows = db.session.scalars(
        select(Mention).where(Mention.reflection_id == reflection.id)
        .options(selectinload(Mention.user)).order_by(Mention.id))
    for mention in rows:
        found.setdefault(mention.reply_id, []).append(mention.user)
    return found


def members_who_read(reflection: Reflection, members: list[Membership]) -> list[Membership]:
    """The members (already read through the policy) who may read this reflection.

    Each is judged by the policy's own per-object reading of the visibility, from the seat in
    hand, so offering someone as a mention costs no query and agrees with the operation.
    """
    knowledge: dict = {}  # one consent lookup per partner, not per member
    return [m for m in members if reads_reflection(
        Actor(user_id=m.user_id, _seats={m.collaboration_id: Seat(m.role, m.partner_id)},
              knowledge=knowledge),
        reflection)]


def collaboration_today(collaboration: Collaboration) -> date:
    """Today's date where the collaboration works: an action due today is not overdue yet."""
    try:
        zone = ZoneInfo(collaboration.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.now(zone).date()
