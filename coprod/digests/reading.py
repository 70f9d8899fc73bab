"""A digest as one reader reads it: the page, the API and the email all start here.

Everything shown is built from readers.view(digest, class of the reader), so a figure never
counts what the reader's class may not read. Words of reflections appear only in theme labels
and in each theme's example sentence, and those are made here, for this reader, from the texts
the policy lets them read (one query per page): the example is the most typical member of the
theme that this reader may read. The email carries figures only, never a label or any other
reflection text.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select

from coprod import policy
from coprod.accounts.models import Role
from coprod.citizens.models import CitizenReference
from coprod.digests import readers
from coprod.digests import themes as theme_methods
from coprod.digests.build import THEME_WINDOW_MAX
from coprod.digests.models import Digest
from coprod.extensions import db
from coprod.reflections.models import Component, ImprovementAction, Kind, Perspective, Reflection
from coprod.routines import schedule
from coprod.routines.models import Routine
from coprod.spaces.models import Collaboration, Partner

BARRIERS_MODULE = "coprod.digests.barriers"


@dataclass
class Headline:
    """The figures at the top of a digest, in its list and in its email."""

    reflections: int
    partners: int
    themes: int
    actions_done: int

    def as_dict(self) -> dict:
        return {"reflections": self.reflections, "partners": self.partners,
                "themes": self.themes, "actions_done": self.actions_done}


@dataclass
class PeriodDays:
    """A period as local days of the collaboration: its first and its last day."""

    first: date
    last: date
    start: datetime
    end: datetime


@dataclass
class Reading:
    digest: Digest
    collaboration: Collaboration
    reader: readers.ReaderClass
    view: readers.DigestView
    headline: Headline
    periods: list[PeriodDays]
    by_partner: list[dict] = field(default_factory=list)
    by_role: list[dict] = field(default_factory=list)
    quiet: list[dict] = field(default_factory=list)
    response_rates: list[dict] | None = None
    kind_component: list[dict] = field(default_factory=list)
    perspectives: list[dict] = field(default_factory=list)
    trend: list[dict] = field(default_factory=list)
    themes: list[dict] = field(default_factory=list)
    actions: dict[str, list[dict]] = field(default_factory=dict)
    barriers: list[dict] | None = None

    @property
    def period(self) -> PeriodDays:
        return self.periods[-1]


def local_days(collaboration: Collaboration, start: datetime, end: datetime) -> PeriodDays:
    tz = schedule.zone(collaboration.timezone)
    return PeriodDays(start.astimezone(tz).date(),
                      (end.astimezone(tz) - timedelta(microseconds=1)).date(), start, end)


def headline_of(view: readers.DigestView) -> Headline:
    return Headline(reflections=view.total,
                    partners=sum(1 for p, n in view.by_partner.items() if p and n),
                    themes=len(view.themes),
                    actions_done=sum(1 for a in view.actions if a["done"]))


def view_for(actor: policy.Actor, digest: Digest) -> tuple[readers.ReaderClass, readers.DigestView]:
    """The reader's class and its view; a non-member has neither (callers 404 first)."""
    reader = readers.class_of(actor, digest.collaboration_id)
    if reader is None:
        raise LookupError("not a member of the digest's collaboration")
    return reader, readers.view(digest, reader)


def headline(actor: policy.Actor, digest: Digest) -> Headline:
    return headline_of(view_for(actor, digest)[1])


def _history(digest: Digest, reader: readers.ReaderClass) -> list[dict]:
    """Per earlier period, the class's counts per partner, kind and perspective (the view
    keeps only totals and kinds of earlier periods)."""
    knowledge = readers._Knowledge(reader.partner_id)
    return [readers._count(cells, reader, knowledge)[1] for cells in
            digest.data.get("history", [])]


def read(actor: policy.Actor, digest: Digest, collaboration: Collaboration) -> Reading:
    """Everything the digest page shows this reader."""
    reader, view = view_for(actor, digest)
    data = digest.data
    spans = [local_days(collaboration, datetime.fromisoformat(a), datetime.fromisoformat(b))
             for a, b in data.get("periods", [])] or [
        local_days(collaboration, digest.period_start, digest.period_end)]
    reading = Reading(digest, collaboration, reader, view, headline_of(view), spans)
    partners = {p.id: p.name for p in db.session.scalars(
        policy.scoped(actor, Partner).where(Partner.collaboration_id == collaboration.id))}
    history = _history(digest, reader)
    _participation(reading, partners, history)
    if policy.may(actor, "read_response_rates", collaboration):
        reading.response_rates = _response_rates(actor, data, partners)
    _counts(reading, history)
    reading.themes = _themes(reading, actor, partners)
    reading.actions = _actions(actor, view, partners)
    reading.barriers = barrier_signals(digest, view, collaboration, reader)
    _audit_actions(actor, reading.actions)
    return reading


def _audit_actions(actor: policy.Actor, actions: dict[str, list[dict]]) -> None:
    """An action's title is the only text a digest shows; when its reflection is about a
    citizen, reading it is a read of citizen-referencing content, through the digest."""
    from coprod.citizens import audit
    from coprod.citizens.models import Channel

    shown = {a["reflection_id"] for rows in actions.values() for a in rows}
    if shown and audit.record_reads(actor, Channel.DIGEST, reflections=shown):
        db.session.commit()


def _participation(reading: Reading, partners: dict, history: list[dict]) -> None:
    view = reading.view
    reading.by_partner = sorted(
        ({"partner_id": p, "name": partners.get(p) if p else None, "n": n}
         for p, n in view.by_partner.items() if n),
        key=lambda row: (-row["n"], row["name"] or ""))
    reading.by_role = sorted(
        ({"role": r, "label": str(Role(r).label) if r else _("No longer a member"), "n": n}
         for r, n in view.by_role.items() if n), key=lambda row: -row["n"])
    for partner_id, name in sorted(partners.items(), key=lambda kv: kv[1]):
        earlier = [h["partner"].get(partner_id, 0) for h in history]
        if any(earlier) and not view.by_partner.get(partner_id):
            reading.quiet.append({"partner_id": partner_id, "name": name, "earlier": earlier})


def _response_rates(actor: policy.Actor, data: dict, partners: dict) -> list[dict]:
    """Prompts answered per routine and partner, now and in the earlier periods."""
    ids = {row["routine_id"] for row in data.get("participation", [])}
    names = dict(db.session.execute(
        select(Routine.id, Routine.name).where(Routine.id.in_(ids),
                                               policy.where(actor, Routine, "read"))).all())
    earlier = Counter()
    for period in data.get("history_participation", []):
        for row in period:
            earlier[(row["routine_id"], row["partner_id"], "prompted")] += row["prompted"]
            earlier[(row["routine_id"], row["partner_id"], "answered")] += row["answered"]
    rows = []
    for row in data.get("participation", []):
        if row["routine_id"] not in names:
            continue
        key = (row["routine_id"], row["partner_id"])
        before = earlier[(*key, "prompted")]
        rows.append({**row, "routine": names[row["routine_id"]],
                     "partner": partners.get(row["partner_id"]) if row["partner_id"] else None,
                     "rate": row["answered"] / row["prompted"] if row["prompted"] else None,
                     "earlier_rate": earlier[(*key, "answered")] / before if before else None})
    return sorted(rows, key=lambda r: (r["routine"], r["partner"] or ""))


def _counts(reading: Reading, history: list[dict]) -> None:
    view = reading.view
    reading.kind_component = [
        {"component": c.value, "label": str(c.label),
         "works": view.by_kind_component.get(("works", c.value), 0),
         "improve": view.by_kind_component.get(("improve", c.value), 0)} for c in Component]
    per_period = [h["perspective"] for h in history] + [view.by_perspective]
    reading.perspectives = [
        {"perspective": p.value, "label": str(p.label), "n": view.by_perspective.get(p.value, 0),
         "trend": [counts.get(p.value, 0) for counts in per_period]} for p in Perspective]
    kinds = view.history_kind
    offset = len(reading.periods) - len(kinds)
    reading.trend = [
        {"period": reading.periods[offset + i], "works": k.get(Kind.WORKS.value, 0),
         "improve": k.get(Kind.IMPROVE.value, 0), "total": view.trend[i]}
        for i, k in enumerate(kinds)]


def theme_texts(actor: policy.Actor, view: readers.DigestView, collaboration: Collaboration,
                window: tuple[datetime, datetime]) -> dict[int, str]:
    """The bodies the reader may read of the themes' reflections and of the others of the
    window (about no citizen), in one query: the others weigh down the words every text
    shares, so a label keeps what sets its theme apart."""
    ids = {i for theme in view.themes for i in theme["window_ids"]}
    if not ids:
        return {}
    about_citizens = select(CitizenReference.reflection_id).where(
        CitizenReference.reflection_id.is_not(None))
    in_window = and_(Reflection.collaboration_id == collaboration.id,
                     Reflection.created_at >= window[0], Reflection.created_at < window[1],
                     Reflection.id.not_in(about_citizens))
    return dict(db.session.execute(
        select(Reflection.id, Reflection.body).where(
            or_(Reflection.id.in_(ids), in_window), Reflection.withdrawn_at.is_(None),
            policy.where(actor, Reflection, "read"))
        .order_by(Reflection.created_at.desc(), Reflection.id.desc())
        .limit(THEME_WINDOW_MAX + len(ids))).all())


def _themes(reading: Reading, actor: policy.Actor, partners: dict) -> list[dict]:
    """The class's themes, labelled from the texts this reader may read."""
    view = reading.view
    texts = theme_texts(actor, view, reading.collaboration,
                        (reading.periods[0].start, reading.periods[-1].end))
    corpus = list(texts.values())
    found = []
    for number, theme in enumerate(view.themes, start=1):
        members = [texts[i] for i in theme["window_ids"] if i in texts]
        label = theme_methods.label(members, corpus) if len(members) >= 2 else ""
        # window_ids come most typical first: the first the reader may read is the example
        example = next((i for i in theme["window_ids"] if i in texts), None)
        found.append({
            "label": label or _("Theme %(number)d", number=number),
            "example": None if example is None else {
                "reflection_id": example,
                "sentence": theme_methods.representative_sentence(texts[example], label)},
            "size": theme["size"], "works": theme["works"], "improve": theme["improve"],
            "trend": theme_methods.trend(theme["per_period"]), "per_period": theme["per_period"],
            "reflection_ids": [i for i in theme["member_ids"] if i in texts],
            "partners": sorted(
                ({"partner_id": p, "name": partners.get(p) if p else None, **split}
                 for p, split in theme["partners"].items()),
                key=lambda row: row["name"] or ""),
        })
    return found


def _actions(actor: policy.Actor, view: readers.DigestView, partners: dict
             ) -> dict[str, list[dict]]:
    """Opened, done ("you said, we did") and overdue actions, each with its reflection."""
    ids = [a["id"] for a in view.actions]
    titles = dict(db.session.execute(
        select(ImprovementAction.id, ImprovementAction.title).where(
            ImprovementAction.id.in_(ids), policy.where(actor, ImprovementAction, "read"))
    ).all()) if ids else {}
    found = {"opened": [], "done": [], "overdue": []}
    for action in view.actions:
        if action["id"] not in titles:
            continue
        row = {"id": action["id"], "reflection_id": action["reflection_id"],
               "title": titles[action["id"]],
               "owner": partners.get(action["owner_partner_id"]),
               "owner_partner_id": action["owner_partner_id"]}
        for state in found:
            if action[state]:
                found[state].append(row)
    return found


def barrier_signals(digest: Digest, view: readers.DigestView, collaboration: Collaboration,
                    reader: readers.ReaderClass | None = None) -> list[dict] | None:
    """The barrier signals of coprod/digests/barriers.py, or None while there is no such
    module (the page then shows no barrier section at all)."""
    if importlib.util.find_spec(BARRIERS_MODULE) is None:
        return None
    return list(importlib.import_module(BARRIERS_MODULE).signals(digest, view, collaboration,
                                                                 reader))


def evidence_item(item) -> dict:
    """One piece of a barrier's evidence as {text, figure, href}: {text, figure?, link?} as
    coprod/digests/barriers.py gives it, or a plain sentence."""
    if isinstance(item, dict):
        href = item.get("link") or item.get("href") or item.get("url")
        return {"text": str(item.get("text") or item.get("title") or href or ""),
                "figure": item.get("figure"), "href": href}
    return {"text": str(item), "figure": None, "href": None}
