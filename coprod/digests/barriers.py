"""Barrier signals of a digest: the barriers of docs/domain.md that show in a period, each with the
evidence behind it.

Four barriers are looked for:

- **structural holes**: a partner gone quiet, improvement actions nobody owns or that are
  overdue, gaps in the service map (an activity nobody performs, a flow between partners
  of whom one performs no activity), and partners that depend on each other on the map (a
  flow, or consecutive activities) but exchanged nothing in the period;
- **value conflict**: a theme that some partners mostly mark as working and others mostly as
  needing improvement;
- **superficial routines**: a routine whose response rate falls period after period,
  prompts answered with boilerplate (a few words, or the member's earlier words again), and
  reflections that come only right after a prompt;
- **data-protection friction**: posts refused for lack of consent, and information categories
  the service map says partners exchange but no consent in force covers.

A signal never reveals what its reader may not read: figures about reflections come from the
reader's DigestView (coprod/digests/readers.py, filtered per permission class), everything
else from what carries no content: the prompts' response counts, the friction counts, the
service map and which categories consents name. Signals are computed when a digest is read,
so they follow consent *now*, like the view.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from flask import current_app, has_request_context, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import exists, select

from coprod.citizens.models import Citizen, Consent, ConsentCategory
from coprod.extensions import db
from coprod.policy.consent import current_consents, now
from coprod.routines import schedule
from coprod.routines.models import Routine
from coprod.servicemap.models import (
    Activity,
    ActivityPerformer,
    InformationCategory,
    InformationFlow,
    InformationFlowCategory,
)
from coprod.spaces.models import Collaboration, Partner

STRUCTURAL_HOLE = "structural_hole"
VALUE_CONFLICT = "value_conflict"
SUPERFICIAL_ROUTINE = "superficial_routine"
DATA_PROTECTION = "data_protection"
KINDS = (STRUCTURAL_HOLE, VALUE_CONFLICT, SUPERFICIAL_ROUTINE, DATA_PROTECTION)

# A partner takes a side on a theme with at least this many reflections on it in the period.
MIN_TAKING_SIDES = 2
# A falling response rate: it fell in each of this many periods in a row...
FALLING_PERIODS = 2
# ... and by at least this much in all (a share, 0.2 = 20 percentage points).
FALLING_BY = 0.2
# Activity only right after prompts: at least this share of a period's reflections came
# within two days of a prompt (build.AFTER_PROMPT), out of at least MIN_REFLECTIONS.
AFTER_PROMPT_SHARE = 0.9
MIN_REFLECTIONS = 5


def signals(digest, view, collaboration: Collaboration, reader=None) -> list[dict]:
    """The barrier signals one reader's class sees in a digest, in the order of KINDS:
    dicts {kind, title, evidence: [{text, figure?, link?}]}. ``reader`` (a
    readers.ReaderClass) narrows what only some may see; without it, the signals a coordinator
    sees."""
    names = _partner_names(collaboration.id)
    found = [
        _quiet_partners(digest, view, names),
        _unowned_actions(view, collaboration, names),
        _overdue_actions(view, collaboration, names),
        _map_gaps(collaboration, names),
        _unconnected_partners(digest, collaboration, names, reader),
        *_value_conflicts(view, collaboration, names),
        *_falling_responses(digest, collaboration),
        *_boilerplate_answers(digest, collaboration),
        _after_prompts_only(digest),
        _refused_posts(digest, names),
        _categories_without_consent(collaboration),
    ]
    signalled = [s for s in found if s is not None]
    return sorted(signalled, key=lambda s: KINDS.index(s["kind"]))


def _signal(kind: str, title: str, evidence: list[dict]) -> dict | None:
    return {"kind": kind, "title": title, "evidence": evidence} if evidence else None


def _evidence(text: str, figure=None, link: str | None = None) -> dict:
    item = {"text": text}
    if figure is not None:
        item["figure"] = figure
    if link is not None:
        item["link"] = link
    return item


def _link(endpoint: str, **values) -> str:
    """A path inside the app; outside a request (a worker, a test) built from the URL map."""
    if has_request_context():
        return url_for(endpoint, **values)
    return current_app.url_map.bind("localhost").build(endpoint, values)


def _reflection_link(collaboration_id: int, reflection_id: int) -> str:
    return _link("reflections.show", collaboration_id=collaboration_id,
                 reflection_id=reflection_id)


def _partner_names(collaboration_id: int) -> dict[int, str]:
    return {p.id: p.name for p in db.session.scalars(
        select(Partner).where(Partner.collaboration_id == collaboration_id))}


def _local_day(instant: str, collaboration: Collaboration):
    return datetime.fromisoformat(instant).astimezone(schedule.zone(collaboration.timezone)).date()


# -- structural holes -------------------------------------------------------------------------


def _quiet_partners(digest, view, names: dict[int, str]) -> dict | None:
    """Partners with readable reflections in earlier periods and none in this one."""
    earlier = defaultdict(int)
    for counts in view.history_partner:
        for partner_id, n in counts.items():
            earlier[partner_id] += n
    periods = len(view.history_partner)
    evidence = [
        _evidence(_("%(partner)s: %(reflections)s %(periods)s, none this period.",
                    partner=names[p],
                    reflections=ngettext("%(num)d reflection", "%(num)d reflections", n),
                    periods=ngettext("in the period before", "in the %(num)d periods before",
                                     periods)), figure=0)
        for p, n in sorted(earlier.items(), key=lambda item: names.get(item[0], ""))
        if p in names and n > 0 and view.by_partner.get(p, 0) == 0]
    return _signal(STRUCTURAL_HOLE, _("A partner has gone quiet"), evidence)


def _open(action: dict) -> bool:
    return not action.get("done")


def _unowned_actions(view, collaboration: Collaboration, names: dict[int, str]) -> dict | None:
    evidence = [
        _evidence(_("An action of %(partner)s has nobody responsible for it.",
                    partner=names.get(a["owner_partner_id"], "?")),
                  link=_reflection_link(collaboration.id, a["reflection_id"]))
        for a in view.actions if _open(a) and a.get("owner_user_id") is None]
    return _signal(STRUCTURAL_HOLE, _("Improvement actions without an owner"), evidence)


def _overdue_actions(view, collaboration: Collaboration, names: dict[int, str]) -> dict | None:
    evidence = [
        _evidence(_("An action of %(partner)s is past its due date.",
                    partner=names.get(a["owner_partner_id"], "?")),
                  link=_reflection_link(collaboration.id, a["reflection_id"]))
        for a in view.actions if a.get("overdue")]
    return _signal(STRUCTURAL_HOLE, _("Improvement actions overdue"), evidence)


def _map_gaps(collaboration: Collaboration, names: dict[int, str]) -> dict | None:
    """The service map's gaps: activities nobody performs, and flows to or from a partner that
    performs no activity (information passes through a partner outside the service)."""
    performing = set(db.session.scalars(
        select(ActivityPerformer.partner_id).join(Activity)
        .where(Activity.collaboration_id == collaboration.id)))
    link = _link("servicemap.map", collaboration_id=collaboration.id)
    evidence = [
        _evidence(_("Nobody performs the activity “%(activity)s”.", activity=a.name), link=link)
        for a in db.session.scalars(
            select(Activity).where(Activity.collaboration_id == collaboration.id,
                                   ~exists().where(ActivityPerformer.activity_id == Activity.id))
            .order_by(Activity.position))]
    flows = db.session.execute(
        select(InformationFlow.from_partner_id, InformationFlow.to_partner_id, Activity.name)
        .join(Activity, Activity.id == InformationFlow.activity_id)
        .where(InformationFlow.collaboration_id == collaboration.id)
        .order_by(Activity.position, InformationFlow.id)).all()
    for source, target, activity in flows:
        idle = [p for p in (source, target) if p not in performing]
        evidence += [_evidence(
            _("Information flows from %(source)s to %(target)s at “%(activity)s”, but "
              "%(partner)s performs no activity in the service.", source=names.get(source, "?"),
              target=names.get(target, "?"), activity=activity, partner=names.get(p, "?")),
            link=link) for p in idle]
    return _signal(STRUCTURAL_HOLE, _("Gaps in the service map"), evidence)


def dependencies(collaboration: Collaboration) -> dict[tuple[int, int], list[str]]:
    """Pairs of partners that depend on each other on the service map, each with why: an
    information flow between them, or one performing an activity and the other the next one
    (activities are the service's steps in order)."""
    found: dict[tuple[int, int], list[str]] = defaultdict(list)

    def depend(a: int, b: int, why: str) -> None:
        if a is not None and b is not None and a != b and why not in found[(min(a, b),
                                                                           max(a, b))]:
            found[(min(a, b), max(a, b))].append(why)

    for source, target, activity in db.session.execute(
            select(InformationFlow.from_partner_id, InformationFlow.to_partner_id, Activity.name)
            .join(Activity, Activity.id == InformationFlow.activity_id)
            .where(InformationFlow.collaboration_id == collaboration.id)
            .order_by(Activity.position, InformationFlow.id)):
        depend(source, target, _("information flows at “%(activity)s”", activity=activity))
    steps = defaultdict(set)
    names = {}
    for position, name, partner_id in db.session.execute(
            select(Activity.position, Activity.name, ActivityPerformer.partner_id)
            .join(ActivityPerformer, ActivityPerformer.activity_id == Activity.id)
            .where(Activity.collaboration_id == collaboration.id)):
        steps[position].add(partner_id)
        names.setdefault(position, set()).add(name)
    ordered = sorted(steps)
    for before, after in zip(ordered, ordered[1:], strict=False):
        for a in steps[before]:
            for b in steps[after]:
                depend(a, b, _("“%(first)s” is followed by “%(next)s”",
                               first=" / ".join(sorted(names[before])),
                               next=" / ".join(sorted(names[after]))))
    return dict(found)


# Reasons shown per pair (flows first, then consecutive activities); the map has the rest.
WHY_SHOWN = 2


def _unconnected_partners(digest, collaboration: Collaboration, names: dict[int, str],
                          reader) -> dict | None:
    """Partners that depend on each other on the service map but exchanged no message,
    reply, mention or "we see this too" in the period. Only pairs of partner ids are counted,
    never what was said; a pair is shown to coordinators and to the two partners' members
    (whether two others wrote to each other is theirs to tell)."""
    if "contacts" not in digest.data:  # a digest built before this signal existed
        return None
    talked = {tuple(pair) for pair in digest.data["contacts"]}
    link = _link("servicemap.map", collaboration_id=collaboration.id)
    evidence = []
    for (a, b), why in sorted(dependencies(collaboration).items(),
                              key=lambda item: (names.get(item[0][0], ""),
                                                names.get(item[0][1], ""))):
        if (a, b) in talked or a not in names or b not in names:
            continue
        if reader is not None and not reader.coordinator and reader.partner_id not in (a, b):
            continue
        evidence.append(_evidence(
            _("%(first)s and %(second)s depend on each other on the service map (%(why)s), "
              "but exchanged no message, reply, mention or reaction this period.",
              first=names[a], second=names[b], why="; ".join(why[:WHY_SHOWN])), figure=0,
            link=link))
    return _signal(STRUCTURAL_HOLE, _("Partners who depend on each other do not talk"), evidence)


# -- value conflict ---------------------------------------------------------------------------


def _value_conflicts(view, collaboration: Collaboration, names: dict[int, str]) -> list[dict]:
    """One signal per theme on which partners disagree, counted from readable reflections of
    partners that said something about it more than once this period (one reflection is an
    opinion, not yet a partner's stance)."""
    from coprod.digests.themes import value_conflict

    found = []
    for index, theme in enumerate(view.themes):
        partners = {p: v for p, v in theme["partners"].items()
                    if v["works"] + v["improve"] >= MIN_TAKING_SIDES}
        works = {p: v["works"] for p, v in partners.items()}
        improve = {p: v["improve"] for p, v in partners.items()}
        if not value_conflict(works, improve):
            continue
        evidence = [
            _evidence(_("%(partner)s: %(works)s, %(improve)s.",
                        partner=names.get(p, _("No partner")),
                        works=ngettext("%(num)d says it works", "%(num)d say it works",
                                       works[p]),
                        improve=ngettext("%(num)d that it needs improving",
                                         "%(num)d that it needs improving", improve[p])),
                      figure=f"{works[p]}/{improve[p]}")
            for p in sorted(partners, key=lambda p: names.get(p, ""))]
        evidence[0]["link"] = _reflection_link(collaboration.id, theme["member_ids"][0])
        signal = _signal(VALUE_CONFLICT, _("Partners disagree about a theme"), evidence)
        signal["theme"] = index
        found.append(signal)
    return found


# -- superficial routines ---------------------------------------------------------------------


def _rates(digest) -> dict[int, list[tuple[int, int, int]]]:
    """Per routine, (period index, answered, prompted) for each period it prompted in."""
    data = digest.data
    per_period = [*data.get("history_participation", []), data.get("participation", [])]
    rates = defaultdict(list)
    for index, rows in enumerate(per_period):
        totals = defaultdict(lambda: [0, 0])
        for row in rows:
            totals[row["routine_id"]][0] += row["answered"]
            totals[row["routine_id"]][1] += row["prompted"]
        for routine_id, (answered, prompted) in totals.items():
            if prompted:
                rates[routine_id].append((index, answered, prompted))
    return rates


def _falls(series: list[tuple[int, int, int]], last_index: int) -> bool:
    """Whether the rate fell in each of the last FALLING_PERIODS periods, by FALLING_BY in all,
    ending with this digest's period."""
    tail = series[-(FALLING_PERIODS + 1):]
    if len(tail) < FALLING_PERIODS + 1 or tail[-1][0] != last_index:
        return False
    shares = [answered / prompted for _index, answered, prompted in tail]
    return (all(b < a for a, b in zip(shares, shares[1:], strict=False))
            and shares[0] - shares[-1] >= FALLING_BY)


def _falling_responses(digest, collaboration: Collaboration) -> list[dict]:
    last = len(digest.data.get("history_participation", []))
    starts = [p[0] for p in digest.data.get("periods", [])]
    found = []
    for routine_id, series in sorted(_rates(digest).items()):
        if not _falls(series, last):
            continue
        routine = db.session.get(Routine, routine_id)
        if routine is None:
            continue
        evidence = [
            _evidence(ngettext("Period from %(day)s: %(answered)d of %(num)d prompt answered.",
                               "Period from %(day)s: %(answered)d of %(num)d prompts answered.",
                               prompted,
                               day=format_date(_local_day(starts[index], collaboration)),
                               answered=answered),
                      figure=f"{round(100 * answered / prompted)}%")
            for index, answered, prompted in series[-(FALLING_PERIODS + 1):]]
        evidence[-1]["link"] = _link("routine_settings.index",
                                     collaboration_id=collaboration.id)
        found.append(_signal(SUPERFICIAL_ROUTINE,
                             _("Fewer answers to the routine “%(routine)s”", routine=routine.name),
                             evidence))
    return found


# Boilerplate answers: at least this share of a routine's answered prompts in the period, of
# at least MIN_ANSWERS of them.
BOILERPLATE_SHARE = 0.5
MIN_ANSWERS = 3


def _boilerplate_answers(digest, collaboration: Collaboration) -> list[dict]:
    """Prompts answered, but with boilerplate: a few words, or the member's earlier words
    again (build.boilerplate_answers). A routine can keep a full response rate this way while
    nobody reflects; counts only, no answer is quoted."""
    found = []
    for row in digest.data.get("answers", []):
        answered, empty = row["answered"], row["boilerplate"]
        if answered < MIN_ANSWERS or empty < BOILERPLATE_SHARE * answered:
            continue
        routine = db.session.get(Routine, row["routine_id"])
        if routine is None:
            continue
        share = round(100 * empty / answered)
        found.append(_signal(SUPERFICIAL_ROUTINE, _(
            "Answers to the routine “%(routine)s” say little", routine=routine.name), [
            _evidence(_("%(empty)d of %(answered)d prompts answered this period were answered "
                        "with a few words or with the member's earlier words again.",
                        empty=empty, answered=answered), figure=f"{share}%",
                      link=_link("routine_settings.index", collaboration_id=collaboration.id))]))
    return found


def _after_prompts_only(digest) -> dict | None:
    """Reflections that come only right after a prompt: said as a share, so the figure tells
    no reader how many reflections there are that they may not read."""
    counts = {row["when"]: row["n"] for row in digest.data.get("prompt_days", [])}
    after, total = counts.get("after_prompt", 0), sum(counts.values())
    if total < MIN_REFLECTIONS or after < AFTER_PROMPT_SHARE * total:
        return None
    share = round(100 * after / total)
    return _signal(SUPERFICIAL_ROUTINE, _("Reflections come only right after prompts"), [
        _evidence(_("%(share)d%% of this period's reflections were written within two days of "
                    "a prompt.", share=share), figure=f"{share}%")])


# -- data-protection friction -----------------------------------------------------------------


def _refused_posts(digest, names: dict[int, str]) -> dict | None:
    """Posts refused for lack of consent, per partner that lacked it (ConsentFriction)."""
    evidence = [
        _evidence(ngettext("%(num)d post about a citizen was refused because %(partner)s, in "
                           "its audience, lacked a need to know or consent.",
                           "%(num)d posts about a citizen were refused because %(partner)s, in "
                           "their audience, lacked a need to know or consent.",
                           row["n"], partner=names.get(row["partner_id"], "?")),
                  figure=row["n"])
        for row in sorted(digest.data.get("frictions", []),
                          key=lambda row: names.get(row["partner_id"], ""))
        if row["n"]]
    return _signal(DATA_PROTECTION, _("Posts refused for lack of consent"), evidence)


def _categories_without_consent(collaboration: Collaboration) -> dict | None:
    """Categories the service map has partners exchange that no consent in force names, in a
    collaboration that serves citizens (without any, consent is not in use yet)."""
    serves = db.session.scalar(select(exists().where(
        Citizen.collaboration_id == collaboration.id, Citizen.erased_at.is_(None))))
    if not serves:
        return None
    consented = (select(ConsentCategory.category_id)
                 .join(Consent, Consent.id == ConsentCategory.consent_id)
                 .join(Citizen, Citizen.id == Consent.citizen_id)
                 .where(Citizen.collaboration_id == collaboration.id,
                        Citizen.erased_at.is_(None), current_consents(now())))
    flowing = (select(InformationFlowCategory.category_id)
               .join(InformationFlow, InformationFlow.id == InformationFlowCategory.flow_id)
               .where(InformationFlow.collaboration_id == collaboration.id))
    missing = db.session.scalars(
        select(InformationCategory.name)
        .where(InformationCategory.collaboration_id == collaboration.id,
               InformationCategory.id.in_(flowing), InformationCategory.id.not_in(consented))
        .order_by(InformationCategory.name)).all()
    link = _link("servicemap.map", collaboration_id=collaboration.id)
    evidence = [_evidence(_("The service map has partners exchange “%(category)s”, but no "
                            "citizen's consent covers it.", category=name), link=link)
                for name in missing]
    return _signal(DATA_PROTECTION, _("Information categories with no consent"), evidence)
