"""Build a digest: the shared aggregation of one (collaboration, period), computed once.

Counting is done in SQL with GROUP BY. Reflections are grouped into *cells* of the same
visibility, author's partner, author's role, kind, component and perspective; a cell is what a
reader may or may not read as a whole. Reflections whose readers depend on more than that (a
chosen audience, or a reference to a citizen) each form a cell of their own, carrying what the
reader filter needs (audience, citizen and categories). coprod/digests/readers.py later keeps,
per permission class, only the cells that class may read.

Themes are grouped over the period and the ones before it (so each theme has a trend), from
reflections that reference no citizen: a theme's label is made of words of its reflections, and
words about a citizen must never travel into a digest or its email. The reflections' vectors
are kept in the database (coprod/digests/vectors.py), so a later build embeds only new or
edited reflections.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import and_, case, false, func, literal, or_, select

from coprod.accounts.models import User
from coprod.citizens.models import CitizenReference, CitizenReferenceCategory, ConsentFriction
from coprod.common import utcnow
from coprod.digests import periods
from coprod.digests.models import Digest, DigestStatus
from coprod.extensions import db
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections.models import (
    ActionStatus,
    ImprovementAction,
    Mention,
    Reaction,
    Reflection,
    ReflectionAudience,
    Reply,
    Visibility,
)
from coprod.routines import schedule
from coprod.routines.models import Prompt, Routine
from coprod.routines.sweep import answered_clause
from coprod.spaces.models import Collaboration, Membership

# Theme grouping looks at this many most recent reflections at most (its cost grows faster
# than linearly); counts always cover every reflection.
THEME_WINDOW_MAX = 3000
# "Right after a prompt": within this long of a prompt going out.
AFTER_PROMPT = timedelta(days=2)
# A member's earlier answers to a routine are looked for this far back.
LOOK_BACK = timedelta(days=180)


def _in_period(column, period: schedule.Period):
    return and_(column >= period.start, column < period.end)


def _referenced():
    return select(CitizenReference.reflection_id).where(
        CitizenReference.reflection_id.is_not(None))


def cells(collaboration_id: int, period: schedule.Period) -> list[dict]:
    """Reflection counts per cell (see the module docstring), in one GROUP BY."""
    role = (select(Membership.role).where(
        Membership.user_id == Reflection.author_id,
        Membership.collaboration_id == Reflection.collaboration_id)
        .correlate(Reflection).scalar_subquery())
    own = case((Reflection.visibility == Visibility.PARTNERS, Reflection.id),
               (Reflection.id.in_(_referenced()), Reflection.id), else_=literal(None))
    rows = db.session.execute(
        select(Reflection.visibility, Reflection.partner_id, role.label("role"),
               Reflection.kind, Reflection.component, Reflection.perspective,
               own.label("own"), func.count().label("n"))
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.withdrawn_at.is_(None), _in_period(Reflection.created_at, period))
        .group_by(Reflection.visibility, Reflection.partner_id, role, Reflection.kind,
                  Reflection.component, Reflection.perspective, own)).all()
    found = [{"visibility": str(r.visibility), "partner_id": r.partner_id,
              "role": str(r.role) if r.role else None, "kind": str(r.kind),
              "component": str(r.component), "perspective": str(r.perspective),
              "reflection_id": r.own, "n": r.n} for r in rows]
    _describe_own_cells(found)
    return found


def _describe_own_cells(found: list[dict]) -> None:
    """Add the audience and the citizen reference to the cells of one reflection each."""
    ids = [c["reflection_id"] for c in found if c["reflection_id"] is not None]
    if not ids:
        return
    audience = defaultdict(list)
    for reflection_id, partner_id in db.session.execute(
            select(ReflectionAudience.reflection_id, ReflectionAudience.partner_id)
            .where(ReflectionAudience.reflection_id.in_(ids))):
        audience[reflection_id].append(partner_id)
    references = {}
    for reflection_id, citizen_id, category_id in db.session.execute(
            select(CitizenReference.reflection_id, CitizenReference.citizen_id,
                   CitizenReferenceCategory.category_id)
            .join(CitizenReferenceCategory,
                  CitizenReferenceCategory.reference_id == CitizenReference.id)
            .where(CitizenReference.reflection_id.in_(ids))):
        entry = references.setdefault(reflection_id, {"citizen_id": citizen_id,
                                                      "category_ids": []})
        entry["category_ids"].append(category_id)
    for cell in found:
        rid = cell["reflection_id"]
        if rid is not None:
            cell["audience"] = sorted(audience.get(rid, []))
            cell["reference"] = references.get(rid)


def describe(reflection_ids) -> dict[int, dict]:
    """What the reader filter needs of single reflections: visibility, author's partner,
    chosen audience and citizen reference."""
    ids = sorted(set(reflection_ids))
    if not ids:
        return {}
    found = {r.id: {"visibility": str(r.visibility), "partner_id": r.partner_id}
             for r in db.session.execute(select(Reflection.id, Reflection.visibility,
                                                Reflection.partner_id)
                                         .where(Reflection.id.in_(ids)))}
    cells_of = [{"reflection_id": i} for i in ids]
    _describe_own_cells(cells_of)
    for cell in cells_of:
        found[cell["reflection_id"]].update(audience=cell["audience"],
                                            reference=cell["reference"])
    return found


def participation(collaboration_id: int, period: schedule.Period) -> list[dict]:
    """Prompts sent and answered per routine and partner in the period (response rates)."""
    answered = func.sum(case((answered_clause(), 1), else_=0))
    rows = db.session.execute(
        select(Prompt.routine_id, Prompt.partner_id, func.count().label("prompted"),
               answered.label("answered"))
        .join(Routine, Routine.id == Prompt.routine_id)
        .where(Routine.collaboration_id == collaboration_id,
               _in_period(Prompt.period_start, period))
        .group_by(Prompt.routine_id, Prompt.partner_id)).all()
    return [{"routine_id": r.routine_id, "partner_id": r.partner_id, "prompted": r.prompted,
             "answered": int(r.answered or 0)} for r in rows]


def prompt_days(collaboration_id: int, period: schedule.Period) -> list[dict]:
    """How many reflections came within two days of a prompt going out, and how many at other
    times: activity only right after prompts is a sign of a superficial routine."""
    sent = db.session.scalars(
        select(Prompt.period_start).distinct().join(Routine, Routine.id == Prompt.routine_id)
        .where(Routine.collaboration_id == collaboration_id,
               Prompt.period_start < period.end,
               Prompt.period_start >= period.start - AFTER_PROMPT)).all()
    after_prompt = or_(false(), *[_in_window(Reflection.created_at, t) for t in sent])
    rows = db.session.execute(
        select(case((after_prompt, "after_prompt"), else_="otherwise").label("when"),
               func.count())
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.withdrawn_at.is_(None), _in_period(Reflection.created_at, period))
        .group_by("when")).all()
    return [{"when": when, "n": n} for when, n in rows]


def contacts(collaboration_id: int, period: schedule.Period) -> list[list[int]]:
    """The pairs of partners that exchanged anything in the period: a message in a conversation
    both take part in, a reply to or a "we see this too" on the other's reflection, a mention
    of the other's member. Pairs of ids only, no content: structural holes are read from it."""
    seat = (select(Membership.user_id, Membership.partner_id)
            .where(Membership.collaboration_id == collaboration_id,
                   Membership.partner_id.is_not(None)).subquery())
    author, other = seat.alias("author_seat"), seat.alias("other_seat")
    in_collab = Reflection.collaboration_id == collaboration_id
    queries = [
        select(author.c.partner_id, other.c.partner_id)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Participant, Participant.conversation_id == Message.conversation_id)
        .join(author, author.c.user_id == Message.author_id)
        .join(other, other.c.user_id == Participant.user_id)
        .where(Conversation.collaboration_id == collaboration_id,
               _in_period(Message.created_at, period)),
        select(Reply.partner_id, Reflection.partner_id)
        .join(Reflection, Reflection.id == Reply.reflection_id)
        .where(in_collab, _in_period(Reply.created_at, period)),
        select(Reaction.partner_id, Reflection.partner_id)
        .join(Reflection, Reflection.id == Reaction.reflection_id)
        .where(in_collab, _in_period(Reaction.created_at, period)),
        select(Reflection.partner_id, other.c.partner_id)
        .select_from(Mention)
        .join(Reflection, Reflection.id == Mention.reflection_id)
        .join(other, other.c.user_id == Mention.user_id)
        .where(in_collab, _in_period(Mention.created_at, period)),
    ]
    pairs = set()
    for query in queries:
        for a, b in db.session.execute(query.distinct()):
            if a is not None and b is not None and a != b:
                pairs.add((min(a, b), max(a, b)))
    return [list(pair) for pair in sorted(pairs)]


def boilerplate_answers(collaboration_id: int, period: schedule.Period) -> list[dict]:
    """Per routine, the period's answered prompts and how many were answered with boilerplate
    only: every answer a few words ("OK", "Nothing new.") or near the same words as one of the
    member's answers to the routine's earlier prompts (themes.boilerplate). Counts only."""
    from coprod.digests.themes import boilerplate

    prompts = db.session.execute(
        select(Prompt.id, Prompt.routine_id, Prompt.user_id, Prompt.period_start,
               Prompt.period_end)
        .join(Routine, Routine.id == Prompt.routine_id)
        .where(Routine.collaboration_id == collaboration_id,
               Prompt.period_start < period.end, Prompt.period_end > period.start - LOOK_BACK)
        .order_by(Prompt.period_start)).all()
    if not prompts:
        return []
    users = {p.user_id for p in prompts}
    written = db.session.execute(
        select(Reflection.author_id, Reflection.prompt_id, Reflection.created_at,
               Reflection.body)
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.author_id.in_(users), Reflection.withdrawn_at.is_(None),
               Reflection.created_at >= period.start - LOOK_BACK,
               Reflection.created_at < period.end)).all()
    earlier: dict[tuple[int, int], list[str]] = defaultdict(list)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for p in prompts:
        answers = [r.body for r in written if r.author_id == p.user_id and (
            r.prompt_id == p.id or p.period_start <= r.created_at < p.period_end)]
        if not answers:
            continue
        key = (p.routine_id, p.user_id)
        if p.period_start >= period.start:
            totals[p.routine_id][0] += 1
            totals[p.routine_id][1] += all(boilerplate(a, earlier[key]) for a in answers)
        earlier[key].extend(answers)
    return [{"routine_id": r, "answered": a, "boilerplate": b}
            for r, (a, b) in sorted(totals.items())]


def _in_window(column, sent_at: datetime):
    return and_(column >= sent_at, column < sent_at + AFTER_PROMPT)


def actions(collaboration_id: int, period: schedule.Period, today) -> list[dict]:
    """Improvement actions opened or done in the period, and those overdue at its end; each
    with its reflection, whose cell decides who may see it."""
    rows = db.session.execute(
        select(ImprovementAction.id, ImprovementAction.reflection_id,
               ImprovementAction.owner_partner_id, ImprovementAction.owner_user_id,
               ImprovementAction.status, ImprovementAction.created_at,
               ImprovementAction.done_at, ImprovementAction.due_on)
        .join(Reflection, Reflection.id == ImprovementAction.reflection_id)
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.withdrawn_at.is_(None),
               ImprovementAction.created_at < period.end)).all()
    found = []
    described = describe(r.reflection_id for r in rows)
    for r in rows:
        opened = period.start <= r.created_at < period.end
        done = r.done_at is not None and period.start <= r.done_at < period.end
        overdue = (r.due_on is not None and r.due_on < today
                   and r.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS))
        if opened or done or overdue:
            found.append({"id": r.id, "reflection_id": r.reflection_id,
                          "owner_partner_id": r.owner_partner_id,
                          "owner_user_id": r.owner_user_id, "opened": opened, "done": done,
                          "overdue": overdue, "cell": described[r.reflection_id]})
    return found


def frictions(collaboration_id: int, period: schedule.Period) -> list[dict]:
    rows = db.session.execute(
        select(ConsentFriction.partner_id, func.count())
        .where(ConsentFriction.collaboration_id == collaboration_id,
               _in_period(ConsentFriction.at, period))
        .group_by(ConsentFriction.partner_id)).all()
    return [{"partner_id": p, "n": n} for p, n in rows]


def theme_sources(collaboration_id: int, window: list[schedule.Period]) -> list[dict]:
    """The reflections themes are grouped from: the window's, minus any about a citizen; each
    with its author's locale, the language it is most likely written in."""
    start, end = window[0].start, window[-1].end
    rows = db.session.execute(
        select(Reflection.id, Reflection.body, Reflection.created_at, Reflection.kind,
               Reflection.partner_id, Reflection.visibility, User.locale)
        .outerjoin(User, User.id == Reflection.author_id)
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.withdrawn_at.is_(None),
               Reflection.created_at >= start, Reflection.created_at < end,
               Reflection.id.not_in(_referenced()))
        .order_by(Reflection.created_at.desc(), Reflection.id.desc())
        .limit(THEME_WINDOW_MAX)).all()
    found = []
    for r in rows:
        index = next(i for i, p in enumerate(window) if p.contains(r.created_at))
        found.append({"id": r.id, "text": r.body, "period": index, "kind": str(r.kind),
                      "partner_id": r.partner_id, "visibility": str(r.visibility),
                      "locale": r.locale})
    return found[::-1]


def _member(source: dict, audiences: dict) -> dict:
    """What the reader filter needs of one grouped reflection."""
    return {**{k: source[k] for k in ("id", "period", "kind", "partner_id", "visibility")},
            "audience": audiences.get(source["id"], {}).get("audience", [])}


def themes(collaboration_id: int, window: list[schedule.Period], method: str
           ) -> tuple[list[dict], list[dict], str]:
    """Group the window's reflections. Each theme keeps its members, the most typical first
    (with what the reader filter needs), and its size per period of the window; the period's
    reflections that fit no theme are kept too, to be counted per reader. Also says which
    method ran (the default falls back to lexical vectors where the model cannot load)."""
    from coprod.digests.themes import group
    from coprod.digests.vectors import ReflectionVectors

    sources = theme_sources(collaboration_id, window)
    if len(sources) < 2:
        return [], [], method
    grouping = group([s["text"] for s in sources], method=method,
                     languages=[s["locale"] for s in sources],
                     store=ReflectionVectors((s["id"], s["text"]) for s in sources))
    audiences = describe(s["id"] for s in sources if s["visibility"] == Visibility.PARTNERS)
    found = []
    for theme in grouping.themes:
        members = [sources[i] for i in theme.central or theme.members]
        found.append({
            "members": [_member(m, audiences) for m in members],
            "per_period": [sum(1 for m in members if m["period"] == i)
                           for i in range(len(window))],
        })
    ungrouped = [_member(sources[i], audiences) for i in grouping.ungrouped
                 if sources[i]["period"] == len(window) - 1]
    return found, ungrouped, grouping.method


def build(collaboration: Collaboration, period: schedule.Period, *, method: str = "default",
          rebuild: bool = False, now: datetime | None = None) -> Digest:
    """The digest of one period: built once (a unique key), rebuilt only when asked."""
    existing = db.session.scalar(select(Digest).where(
        Digest.collaboration_id == collaboration.id, Digest.period_start == period.start))
    if existing is not None and not rebuild:
        return existing
    now = now or utcnow()
    earlier = periods.earlier_periods(collaboration, period)
    window = [*earlier, period]
    today = period.end.astimezone(schedule.zone(collaboration.timezone)).date()
    data = {
        "periods": [[p.start.isoformat(), p.end.isoformat()] for p in window],
        "cells": cells(collaboration.id, period),
        "history": [cells(collaboration.id, p) for p in earlier],
        "participation": participation(collaboration.id, period),
        "history_participation": [participation(collaboration.id, p) for p in earlier],
        "prompt_days": prompt_days(collaboration.id, period),
        "actions": actions(collaboration.id, period, today),
        "frictions": frictions(collaboration.id, period),
        "contacts": contacts(collaboration.id, period),
        "answers": boilerplate_answers(collaboration.id, period),
    }
    data["themes"], data["ungrouped"], used = themes(collaboration.id, window, method)
    digest = existing or Digest(collaboration_id=collaboration.id, period_start=period.start,
                                period_end=period.end)
    digest.data, digest.method, digest.built_at = data, used, now
    if existing is None:
        digest.status = DigestStatus.BUILT
        db.session.add(digest)
    db.session.flush()
    return digest
