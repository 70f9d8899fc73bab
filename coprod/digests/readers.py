"""What one reader may see of a digest: the shared aggregation filtered per permission class.

A permission class is (the reader's partner organization in the collaboration, whether they are
a coordinator). Every member of a class reads the same cells, so a digest page or email costs
the same whatever the number of readers: the filter runs over cells (aggregates), never over a
reader's items one by one. The reading of a cell follows coprod/policy/visibility.py (without
the author's exception: a digest shows nobody their own reflections that the class may not
read), and a cell about a citizen follows coprod/policy/consent.py *now*, so a withdrawal
changes the next view of an old digest too. tests/digests check that a class's counts equal
the reflections policy.may lets a member of the class read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from coprod.accounts.models import Role
from coprod.citizens.models import Citizen
from coprod.extensions import db
from coprod.policy import Actor
from coprod.policy.consent import known_categories, now
from coprod.reflections.models import Visibility


@dataclass(frozen=True)
class ReaderClass:
    partner_id: int | None
    coordinator: bool


def class_of(actor: Actor, collaboration_id: int) -> ReaderClass | None:
    seat = actor.seat(collaboration_id)
    if seat is None:
        return None
    return ReaderClass(seat.partner_id, seat.role == Role.COORDINATOR)


@dataclass
class _Knowledge:
    """What the class's partner may know of each citizen now, asked once per citizen."""

    partner_id: int | None
    known: dict[int, set[int]] = field(default_factory=dict)

    def knows(self, reference: dict) -> bool:
        if self.partner_id is None or not reference or not reference["category_ids"]:
            return False
        citizen_id = reference["citizen_id"]
        if citizen_id not in self.known:
            citizen = db.session.get(Citizen, citizen_id)
            self.known[citizen_id] = (known_categories(citizen, self.partner_id, now())
                                      if citizen is not None else set())
        return set(reference["category_ids"]) <= self.known[citizen_id]


def reads_cell(cell: dict, reader: ReaderClass, knowledge: _Knowledge) -> bool:
    """Whether the class may read the reflections of a cell."""
    if cell.get("reference") and not knowledge.knows(cell["reference"]):
        return False
    visibility = Visibility(cell["visibility"])
    if visibility == Visibility.COLLABORATION:
        return True
    if visibility == Visibility.COORDINATORS:
        return reader.coordinator
    if reader.partner_id is None:
        return False
    if visibility == Visibility.ORGANIZATION:
        return reader.partner_id == cell["partner_id"]
    return reader.partner_id == cell["partner_id"] or reader.partner_id in cell.get(
        "audience", [])


@dataclass
class DigestView:
    """One class's digest: only figures built from what the class may read."""

    total: int
    by_partner: Counter
    by_role: Counter
    by_kind_component: Counter
    by_perspective: Counter
    trend: list[int]
    history_kind: list[Counter]
    themes: list[dict]
    actions: list[dict]
    readable_ids: set[int]
    # Readable reflections per partner in each earlier period (a partner gone quiet).
    history_partner: list[Counter] = field(default_factory=list)
    # Readable reflections of this period that fit no theme.
    ungrouped: int = 0


def _count(cells: list[dict], reader: ReaderClass, knowledge: _Knowledge):
    kept = [c for c in cells if reads_cell(c, reader, knowledge)]
    totals = {"partner": Counter(), "role": Counter(), "kind_component": Counter(),
              "perspective": Counter(), "kind": Counter()}
    for c in kept:
        totals["partner"][c["partner_id"]] += c["n"]
        totals["role"][c["role"]] += c["n"]
        totals["kind_component"][(c["kind"], c["component"])] += c["n"]
        totals["perspective"][c["perspective"]] += c["n"]
        totals["kind"][c["kind"]] += c["n"]
    return sum(c["n"] for c in kept), totals, kept


def _theme_for(theme: dict, reader: ReaderClass, knowledge: _Knowledge) -> dict | None:
    """A theme as the class sees it: only readable members count, and it must keep at least
    two of them in the window and one in the period to be shown."""
    members = [m for m in theme["members"] if reads_cell(m, reader, knowledge)]
    current = [m for m in members if m["period"] == len(theme["per_period"]) - 1]
    if len(members) < 2 or not current:
        return None
    per_period = [0] * len(theme["per_period"])
    for m in members:
        per_period[m["period"]] += 1
    partners = defaultdict(lambda: {"works": 0, "improve": 0})
    for m in current:
        partners[m["partner_id"]][m["kind"]] += 1
    return {"member_ids": [m["id"] for m in current], "window_ids": [m["id"] for m in members],
            "per_period": per_period, "size": len(current), "partners": dict(partners),
            "works": sum(1 for m in current if m["kind"] == "works"),
            "improve": sum(1 for m in current if m["kind"] == "improve")}


def view(digest, reader: ReaderClass) -> DigestView:
    """Filter the digest's shared data for one permission class."""
    knowledge = _Knowledge(reader.partner_id)
    data = digest.data
    total, totals, kept = _count(data["cells"], reader, knowledge)
    history = [_count(cells, reader, knowledge) for cells in data.get("history", [])]
    readable_ids = {c["reflection_id"] for c in kept if c.get("reflection_id")}
    themes = [t for t in (_theme_for(t, reader, knowledge) for t in data.get("themes", []))
              if t is not None]
    actions = [a for a in data.get("actions", []) if _reads_action(a, data, reader, knowledge)]
    return DigestView(
        total=total, by_partner=totals["partner"], by_role=totals["role"],
        by_kind_component=totals["kind_component"], by_perspective=totals["perspective"],
        trend=[h[0] for h in history] + [total],
        history_kind=[h[1]["kind"] for h in history] + [totals["kind"]],
        themes=sorted(themes, key=lambda t: -t["size"]), actions=actions,
        readable_ids=readable_ids, history_partner=[h[1]["partner"] for h in history],
        ungrouped=sum(1 for m in data.get("ungrouped", []) if reads_cell(m, reader, knowledge)))


def _reads_action(action: dict, data: dict, reader: ReaderClass, knowledge: _Knowledge
                  ) -> bool:
    """An action is seen by whoever may read its reflection: the action's cell is looked up
    in the digest's own description of that reflection."""
    cell = action.get("cell")
    return cell is not None and reads_cell(cell, reader, knowledge)
