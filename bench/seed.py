"""A municipality's collaboration with N reflections, for bench/http.py (and its test).

The people, partners, service map, citizens and consents are few and are made through the
operations, as a coordinator would make them. The bulk (reflections with their audiences,
tags, revisions, citizen references, replies, mentions, reactions, improvement actions,
notifications, feed visits and the members' unread counters) is written with COPY: exactly
the rows the operations write (same tables, same columns, the `language` the INSERT hook
would set, ids in the order of time), so 100,000 reflections take a minute, not hours;
tests/test_bench.py holds the two together. Consents are withdrawn afterwards through the
operation, so some content has become unreadable to some partners, as in real use.

Proportions (per reflection, on average): 1 reply, 0.25 tags, 0.3 reactions; 8 % about a
citizen; 2 % withdrawn, 3 % edited; 1 % of "improve" reflections became an action; a reply
notifies the reflection's author, a mention the member named; notifications older than two
weeks are mostly read. One citizen per 50 reflections (2 to 400), each with a consent, 15 %
of them changed later to leave out one partner and 5 % withdrawn wholly.

    seed(db, n) -> Seeded    (in an app context; commits)
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import argon2.profiles
from sqlalchemy import select, text

from coprod import readonly
from coprod.accounts.models import use_password_hashing

# Bump when the rows written here change: a stored seed of another version is rebuilt.
SEED_VERSION = 2
PASSWORD = "bench-password-2026"
READER_EMAIL = "reader@jobcentre.bench.example.org"
COORDINATOR_EMAIL = "coordinator@jobcentre.bench.example.org"
SPAN_DAYS = 730  # the reflections are spread over the last two years

# (key, organization, sector, staff, locale): a municipality, its care homes and community
# centres, two employers and two voluntary organizations; staff in proportion to their part.
PARTNERS = [
    ("jobcentre", "Skovby Job Centre", "public", 10, "da"),
    ("lindely", "Lindely Care Home", "public", 6, "da"),
    ("bakkehuset", "Bakkehuset Care Home", "public", 5, "da"),
    ("norre", "Nørre Community Centre", "public", 4, "da"),
    ("syd", "Syd Community Centre", "public", 3, "en"),
    ("cafe", "Café Solsikke", "private", 3, "da"),
    ("bakery", "Skovby Bakery", "private", 2, "en"),
    ("shelter", "Skovby Animal Shelter", "third_sector", 3, "en"),
    ("volunteers", "Red Cross Volunteers Skovby", "third_sector", 4, "da"),
]
CATEGORIES = ["Contact details", "Support needs", "Work preferences", "Health"]
# (name, co-produced, performers, flows (from, to, categories)) of the service map.
ACTIVITIES = [
    ("First meeting", True, ["jobcentre"], [("jobcentre", "lindely", [0, 1]),
                                            ("jobcentre", "bakkehuset", [0, 1])]),
    ("Finding a place", False, ["jobcentre", "norre", "syd"],
     [("jobcentre", "volunteers", [0, 2])]),
    ("Trial shifts", True, ["cafe", "bakery", "shelter"], [("jobcentre", "cafe", [1, 2]),
                                                           ("jobcentre", "shelter", [2])]),
    ("Support at home", False, ["lindely", "bakkehuset"], []),
    ("Follow-up", True, ["jobcentre", "volunteers"], [("jobcentre", "norre", [1])]),
]
TAGS = ["minibus", "shifts", "mentoring", "consent", "lunch", "welcome", "transport", "safety"]

SUBJECTS = {
    "en": [("the minibus", ["arrives late", "is full on Thursdays", "driver calls ahead"]),
           ("the shift plan", ["comes on Friday", "changes after Monday", "names the mentor"]),
           ("the follow-up call", ["after the first month", "nobody owns", "helps a lot"]),
           ("the Thursday café", ["brings partners together", "needs an agenda"]),
           ("mentoring", ["one fixed mentor works", "short first shifts help"]),
           ("the lunch rush", ["is too loud", "a quiet task first helps"])],
    "da": [("minibussen", ["kommer for sent", "er fuld om torsdagen", "chaufføren ringer"]),
           ("vagtplanen", ["kommer om fredagen", "ændres efter mandag", "nævner mentoren"]),
           ("opfølgningen", ["efter første måned", "ingen ejer den", "hjælper meget"]),
           ("torsdagscaféen", ["samler partnerne", "mangler en dagsorden"]),
           ("mentorordningen", ["én fast mentor virker", "korte første vagter hjælper"]),
           ("frokosttravlheden", ["er for larmende", "en rolig opgave først hjælper"])],
}
OPENINGS = {"en": ["We noticed that", "This fortnight", "Our staff say", "It worked when"],
            "da": ["Vi har set at", "I denne uge", "Vores personale siger", "Det virkede da"]}


@dataclass
class Seeded:
    """What the bench needs to know of a seeded database (kept in its bench_seed table)."""

    size: int
    version: int = SEED_VERSION
    collaboration_id: int = 0
    reader_email: str = READER_EMAIL
    password: str = PASSWORD
    token: str = ""
    max_reflection_id: int = 0
    reflection_id: int = 0  # a reflection page to show: about a citizen, with replies
    search: str = "minibus"
    counts: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)  # how long each part of the seed took

    def as_json(self) -> dict:
        return asdict(self)


@dataclass
class World:
    """The few objects made through the operations, by key and id."""

    collaboration: object
    coordinator: object
    users: list = field(default_factory=list)  # (user, partner_id or None, role, language)
    partner_ids: dict = field(default_factory=dict)
    category_ids: list = field(default_factory=list)
    coordinator_partner_ids: set = field(default_factory=set)
    citizens: list = field(default_factory=list)  # (citizen, category ids, allowed partners)


# -- the world, through the operations -------------------------------------------------------

def _world(db, rng: random.Random, n_citizens: int) -> World:
    from coprod import policy
    from coprod.accounts import operations as accounts
    from coprod.accounts.models import Role
    from coprod.notifications import operations as notifying
    from coprod.servicemap import operations as mapping
    from coprod.spaces import operations as spaces
    from coprod.spaces.models import Membership

    coordinator = accounts.create_user(COORDINATOR_EMAIL, "Mette Dahl", PASSWORD, locale="da",
                                       timezone="Europe/Copenhagen")
    actor = policy.actor_for(coordinator)
    collaboration = spaces.create_collaboration(
        actor, title="Meaningful work in Skovby", purpose="new_service",
        remit_kind="social_group", remit="People on a disability pension",
        timezone="Europe/Copenhagen", organization_name=PARTNERS[0][1],
        organization_sector=PARTNERS[0][2])
    world = World(collaboration, coordinator)
    seat = db.session.scalar(select(Membership).where(
        Membership.collaboration_id == collaboration.id, Membership.user_id == coordinator.id))
    world.partner_ids[PARTNERS[0][0]] = seat.partner_id
    for key, name, sector, _staff, _locale in PARTNERS[1:]:
        world.partner_ids[key] = spaces.add_partner(actor, collaboration, name=name,
                                                    sector=sector).id
    world.coordinator_partner_ids = {seat.partner_id}
    world.users.append((coordinator, seat.partner_id, Role.COORDINATOR, "da"))

    def member(email, name, role, partner_id, locale):
        user = accounts.create_user(email, name, PASSWORD, locale=locale,
                                    timezone="Europe/Copenhagen")
        invitation = accounts.invite(actor, collaboration, email, role, partner_id=partner_id)
        accounts.accept_invitation(invitation, user)
        notifying.update_preferences(policy.actor_for(user), "off")
        world.users.append((user, partner_id, role, locale[:2]))
        return user

    for key, _name, _sector, staff, locale in PARTNERS:
        for i in range(staff):
            email = READER_EMAIL if (key, i) == ("jobcentre", 0) else \
                f"staff{i}@{key}.bench.example.org"
            member(email, f"{key.title()} staff {i}", Role.PARTNER_STAFF,
                   world.partner_ids[key], locale)
    member("coordinator2@lindely.bench.example.org", "Lars Holm", Role.COORDINATOR,
           world.partner_ids["lindely"], "da")
    world.coordinator_partner_ids.add(world.partner_ids["lindely"])
    for i in range(2):
        member(f"observer{i}@bench.example.org", f"Observer {i}", Role.OBSERVER, None, "en")
    notifying.update_preferences(actor, "off")

    world.category_ids = [mapping.create_category(actor, collaboration, name=name).id
                          for name in CATEGORIES]
    activities = []  # (id, performing partner ids, {(receiving partner id, category id)})
    for name, co_produced, performers, flows in ACTIVITIES:
        activity = mapping.create_activity(
            actor, collaboration, name=name, co_produced=co_produced,
            performer_ids=[world.partner_ids[k] for k in performers])
        received = set()
        for source, target, cats in flows:
            mapping.create_flow(actor, activity, from_partner_id=world.partner_ids[source],
                                to_partner_id=world.partner_ids[target],
                                category_ids=[world.category_ids[c] for c in cats])
            received |= {(world.partner_ids[target], world.category_ids[c]) for c in cats}
        activities.append((activity.id, {world.partner_ids[k] for k in performers}, received))
    _citizens(db, rng, world, actor, activities, n_citizens)
    db.session.flush()
    return world


def _citizens(db, rng, world: World, actor, activities, count: int) -> None:
    """Citizens with a service and a consent naming the partners that serve them (and, for a
    few, all partners), through the operations."""
    from coprod.citizens import operations as citizens

    today = datetime.now(UTC).date()
    all_partners = sorted(world.partner_ids.values())
    activity_ids = [a for a, _performers, _flows in activities]
    for i in range(count):
        service = [activity_ids[0]] + rng.sample(activity_ids[1:], rng.randint(1, 3))
        citizen = citizens.create_citizen(actor, world.collaboration, pseudonym=f"Citizen {i + 1}",
                                          name=f"Person {i + 1}", activity_ids=service)
        cats = sorted(rng.sample(world.category_ids, rng.randint(2, 4)))
        named = set(all_partners if rng.random() < 0.3 else rng.sample(all_partners, 5)
                    + [world.partner_ids["jobcentre"]])
        citizens.give_consent(actor, citizen, partner_ids=sorted(named), category_ids=cats,
                              purpose="Finding meaningful work",
                              starts_on=today - timedelta(days=SPAN_DAYS + 30),
                              given_by="guardian" if rng.random() < 0.4 else "citizen",
                              given_by_name="A guardian", method="paper")
        world.citizens.append((citizen, cats, _allowed(
            [a for a in activities if a[0] in service], named, cats)))


def _allowed(service, named: set, cats: list) -> dict:
    """{frozenset(categories): partners that may know them}, for each category and the pair of
    the first two: the consent names the partner and the category, and the partner performs
    an activity of the citizen's service or receives a flow carrying the category at one
    (README, "Citizens, consent and need-to-know"; tests/test_bench.py checks every seeded
    reference against the posting operation's own check)."""
    def knows(partner_id: int, category_id: int) -> bool:
        return partner_id in named and any(
            partner_id in performers or (partner_id, category_id) in flows
            for _activity, performers, flows in service)

    partners = {p for _a, performers, flows in service for p in performers} | {
        p for _a, _performers, flows in service for p, _c in flows}
    return {frozenset(wanted): {p for p in partners if all(knows(p, c) for c in wanted)}
            for wanted in [(c,) for c in cats] + [tuple(cats[:2])]}


def _withdrawals(rng, world: World, actor) -> None:
    """Later, some consents change to leave out one partner, a few are withdrawn wholly."""
    from coprod.citizens import operations as citizens

    jobcentre = world.partner_ids["jobcentre"]
    for citizen, *_ in world.citizens:
        draw = rng.random()
        if draw >= 0.20:
            continue
        consent = citizens.current_consents(citizen)[0]
        others = [p.id for p in consent.partners if p.id != jobcentre]
        if draw < 0.05 or not others:
            citizens.withdraw_consent(actor, consent, given_by="citizen", method="online")
        else:
            citizens.withdraw_consent(actor, consent, partner_id=rng.choice(others),
                                      given_by="citizen", method="online")


# -- the bulk, with COPY -----------------------------------------------------------

def _insert(db, model, rows: list[dict], returning=None) -> list:
    """COPY rows into the model's table, in the session's transaction; with `returning`, the
    rows get ids drawn from the table's sequence first (ascending, in the order of the rows),
    which are returned. Columns a row leaves out get their Python default, as an INSERT of
    the ORM or Core would give them (their server default otherwise)."""
    if not rows:
        return []
    table = model.__table__
    ids = []
    if returning is not None:
        ids = sorted(db.session.execute(text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": len(rows)}).scalars())
        rows = [{"id": i, **row} for i, row in zip(ids, rows, strict=True)]
    defaults = {c.name: c.default for c in table.columns
                if c.name not in rows[0] and c.default is not None}
    columns = list(rows[0]) + list(defaults)
    driver = db.session.connection().connection.driver_connection
    readonly.begin_writing(driver)  # a COPY is no statement SQLAlchemy's events see
    cursor = driver.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            values = [row[c] for c in rows[0]] + [_default(d) for d in defaults.values()]
            copy.write_row([v.value if isinstance(v, enum.Enum) else v for v in values])
    return ids


def _default(default):
    return default.arg(None) if default.is_callable else default.arg


def _body(rng, language: str, i: int) -> str:
    subject, details = rng.choice(SUBJECTS[language])
    return (f"{rng.choice(OPENINGS[language])} {subject} {rng.choice(details)}, "
            f"{rng.choice(details)} ({i}).")


def _readers(world: World, visibility: str, partner_id, audience) -> set:
    """The partners whose staff read a reflection (reflections.operations.reader_partners)."""
    if visibility == "collaboration":
        return set(world.partner_ids.values())
    if visibility == "coordinators":
        return world.coordinator_partner_ids | {partner_id}
    if visibility == "partners":
        return set(audience) | {partner_id}
    return {partner_id}


def _reader_users(world: World, plan: dict) -> list[tuple[int, int, str]]:
    """(user id, partner id, language) of the members speaking for a partner who may read a
    reflection (policy/visibility.py): its readers' staff, coordinators only for
    "coordinators", the author always."""
    from coprod.accounts.models import Role

    if plan["visibility"] == "coordinators":
        return [(u.id, p, lang) for u, p, role, lang in world.users
                if p is not None and (role == Role.COORDINATOR or u.id == plan["author_id"])]
    readers = _readers(world, plan["visibility"], plan["partner_id"], plan["audience"])
    return [(u.id, p, lang) for u, p, _role, lang in world.users if p in readers]


def _bulk(db, rng: random.Random, world: World, n: int, now: datetime) -> dict:
    from coprod.accounts.models import Role
    from coprod.citizens.models import CitizenReference, CitizenReferenceCategory
    from coprod.reflections.models import (
        FeedVisit,
        ImprovementAction,
        Mention,
        Reaction,
        Reflection,
        ReflectionAudience,
        ReflectionRevision,
        ReflectionTag,
        Reply,
    )
    from coprod.routines.models import Notification

    collaboration_id = world.collaboration.id
    authors = [(u.id, p, lang) for u, p, role, lang in world.users
               if role in (Role.PARTNER_STAFF, Role.COORDINATOR)]
    staff = {}  # partner id -> its partner staff (action_assigned notifies them)
    for u, p, role, _lang in world.users:
        if p is not None and role == Role.PARTNER_STAFF:
            staff.setdefault(p, []).append(u.id)
    start = now - timedelta(days=SPAN_DAYS)
    step = (SPAN_DAYS * 86400 - 3600) / max(n, 1)
    others = sorted(world.partner_ids.values())

    plans, rows = [], []
    for i in range(n):
        author_id, partner_id, language = rng.choice(authors)
        created = start + timedelta(seconds=i * step + rng.uniform(0, step / 2))
        about = None
        draw = rng.random()
        visibility = ("collaboration" if draw < 0.70 else "organization" if draw < 0.82
                      else "coordinators" if draw < 0.90 else "partners")
        audience = []
        if rng.random() < 0.08 and world.citizens:
            citizen, _cats, allowed = rng.choice(world.citizens)
            wanted = rng.choice(list(allowed))
            if partner_id in allowed[wanted]:
                about = (citizen.id, sorted(wanted))
                choices = sorted(allowed[wanted] - {partner_id})
                if choices and rng.random() < 0.6:
                    visibility = "partners"
                    audience = rng.sample(choices, min(len(choices), rng.randint(1, 3)))
                else:
                    visibility = "organization"
        if visibility == "partners" and not audience:
            audience = rng.sample([p for p in others if p != partner_id], rng.randint(1, 3))
        withdrawn = rng.random() < 0.02
        edited = not withdrawn and rng.random() < 0.03
        kind = "improve" if rng.random() < 0.45 else "works"
        rows.append(dict(
            collaboration_id=collaboration_id, author_id=author_id, partner_id=partner_id,
            kind=kind, perspective=rng.choice(["local", "citizens", "collaboration"]),
            component=rng.choice(["governance", "resources", "assets", "routines"]),
            learning_level=rng.choice(["inter", "intra"]),
            mode=rng.choice(["exploration", "exploitation"]),
            body="" if withdrawn else _body(rng, language, i), language=language,
            visibility=visibility, attribution="organization" if rng.random() < 0.1
            else "person", created_at=created,
            edited_at=created + timedelta(hours=2) if edited else None,
            withdrawn_at=created + timedelta(days=1) if withdrawn else None,
            withdrawn_by_id=author_id if withdrawn else None, prompt_id=None))
        plans.append(dict(author_id=author_id, partner_id=partner_id, language=language,
                          created=created, visibility=visibility, audience=audience,
                          about=about, withdrawn=withdrawn, edited=edited, kind=kind))
    reflection_ids = _insert(db, Reflection, rows, Reflection.id)

    audience_rows, tag_rows, revision_rows, references = [], [], [], []
    reply_rows, reply_plans, mention_rows, mention_plans = [], [], [], []
    reaction_rows, action_rows, action_plans = [], [], []
    for rid, plan in zip(reflection_ids, plans, strict=True):
        plan["id"] = rid
        audience_rows += [dict(reflection_id=rid, partner_id=p) for p in sorted(plan["audience"])]
        if plan["about"]:
            references.append((rid, *plan["about"], plan["created"]))
        if plan["withdrawn"]:
            continue
        if rng.random() < 0.25:
            tag_rows += [dict(reflection_id=rid, name=t)
                         for t in sorted(rng.sample(TAGS, rng.randint(1, 2)))]
        if plan["edited"]:
            revision_rows.append(dict(
                reflection_id=rid, body=_body(rng, plan["language"], rid), kind=plan["kind"],
                perspective="local", component="routines", edited_by_id=plan["author_id"],
                edited_at=plan["created"] + timedelta(hours=2)))
        readers = _reader_users(world, plan)
        draw = rng.random()
        count = 0 if draw < 0.45 else 1 if draw < 0.75 else 2 if draw < 0.90 else \
            rng.randint(3, 5)
        for k in range(count):
            replier, replier_partner, language = rng.choice(readers)
            at = min(plan["created"] + timedelta(minutes=rng.randint(5, 4000) * (k + 1)),
                     now - timedelta(minutes=1))
            reply_plans.append(dict(reflection=plan, author_id=replier, at=at, first=k == 0))
            reply_rows.append(dict(
                reflection_id=rid, parent_id=None, author_id=replier,
                partner_id=replier_partner, body=_body(rng, language, rid), language=language,
                created_at=at))
        if rng.random() < 0.03:
            named = [u for u, _p, _l in readers if u != plan["author_id"]]
            if named:
                user_id = rng.choice(named)
                mention_rows.append(dict(reflection_id=rid, reply_id=None, user_id=user_id,
                                         created_at=plan["created"]))
                mention_plans.append((plan, user_id))
        if rng.random() < 0.3:
            by_partner = {}
            for u, p, _l in readers:
                if p != plan["partner_id"]:
                    by_partner.setdefault(p, []).append(u)
            for p in rng.sample(sorted(by_partner), min(len(by_partner), rng.randint(1, 2))):
                reaction_rows.append(dict(reflection_id=rid, partner_id=p,
                                          user_id=rng.choice(by_partner[p]),
                                          created_at=plan["created"] + timedelta(hours=3)))
        if (plan["kind"] == "improve" and plan["visibility"] == "collaboration"
                and not plan["about"] and rng.random() < 0.01):
            owner = rng.choice(others)
            status = rng.choice(["open", "in_progress", "done", "dropped"])
            done = plan["created"] + timedelta(days=20)
            action_rows.append(dict(
                reflection_id=rid, owner_partner_id=owner, owner_user_id=None,
                title=f"Follow up on reflection {rid}", due_on=None, status=status,
                done_note="Done: see the new plan." if status == "done" else None,
                created_by_id=world.coordinator.id, created_at=plan["created"] + timedelta(
                    days=1), updated_at=done if status != "open" else None,
                done_at=done if status == "done" else None))
            action_plans.append((plan, owner))

    _insert(db, ReflectionAudience, audience_rows)
    _insert(db, ReflectionTag, tag_rows)
    _insert(db, ReflectionRevision, revision_rows)
    reference_ids = _insert(db, CitizenReference, [
        dict(citizen_id=c, reflection_id=rid, reply_id=None, message_id=None, created_at=at)
        for rid, c, _cats, at in references], CitizenReference.id)
    _insert(db, CitizenReferenceCategory, [
        dict(reference_id=ref, category_id=cat)
        for ref, (_rid, _c, cats, _at) in zip(reference_ids, references, strict=True)
        for cat in cats])
    reply_ids = _insert(db, Reply, reply_rows, Reply.id)
    threaded = []
    last_first = {}
    for reply_id, rp in zip(reply_ids, reply_plans, strict=True):
        rp["id"] = reply_id
        if rp["first"]:
            last_first[rp["reflection"]["id"]] = reply_id
        elif rng.random() < 0.3:
            threaded.append((reply_id, last_first[rp["reflection"]["id"]]))
    if threaded:
        from sqlalchemy import bindparam, update

        db.session.execute(update(Reply.__table__).where(
            Reply.__table__.c.id == bindparam("b_id")).values(parent_id=bindparam("b_parent")),
            [dict(b_id=r, b_parent=p) for r, p in threaded])
    mention_ids = _insert(db, Mention, mention_rows, Mention.id)
    _insert(db, Reaction, reaction_rows)
    action_ids = _insert(db, ImprovementAction, action_rows, ImprovementAction.id)

    notifications = []

    def notify(user_id, kind, key, about, at):
        read = at < now - timedelta(days=14) and rng.random() < 0.9 or rng.random() < 0.3
        notifications.append(dict(
            user_id=user_id, collaboration_id=collaboration_id, kind=kind, key=key,
            about=about, created_at=at, emailed_at=None,
            read_at=min(at + timedelta(hours=rng.randint(1, 72)), now) if read else None))

    for rp in reply_plans:  # notifications.operations.replied
        if rp["author_id"] != rp["reflection"]["author_id"]:
            notify(rp["reflection"]["author_id"], "reply", f"reply:{rp['id']}",
                   f"reply:{rp['id']}", rp["at"])
    for mention_id, (plan, user_id) in zip(mention_ids, mention_plans, strict=True):
        notify(user_id, "mention", f"mention:{mention_id}", f"reflection:{plan['id']}",
               plan["created"])
    for action_id, (plan, owner) in zip(action_ids, action_plans, strict=True):
        for user_id in staff.get(owner, []):
            if user_id != world.coordinator.id:
                notify(user_id, "action", f"action:{action_id}", f"action:{action_id}",
                       plan["created"] + timedelta(days=1))
    _insert(db, Notification, notifications)
    _count_unread(db, [u.id for u, _p, _r, _l in world.users])
    _insert(db, FeedVisit, [dict(user_id=u.id, collaboration_id=collaboration_id,
                                 seen_at=now - timedelta(days=rng.randint(1, 20)))
                            for u, _p, _r, _l in world.users])

    with_replies = {rp["reflection"]["id"] for rp in reply_plans}
    jobcentre = world.partner_ids["jobcentre"]
    shown = [p["id"] for p in reversed(plans) if p["about"] and not p["withdrawn"]
             and p["id"] in with_replies and jobcentre in _readers(
                 world, p["visibility"], p["partner_id"], p["audience"])][:50]
    shown += [p["id"] for p in reversed(plans) if p["id"] in with_replies
              and p["visibility"] == "collaboration" and not p["withdrawn"]][:50]
    return dict(reflections=len(rows), replies=len(reply_rows), mentions=len(mention_rows),
                references=len(references), reactions=len(reaction_rows),
                actions=len(action_rows), notifications=len(notifications),
                shown=shown, max_reflection_id=max(reflection_ids))


def _first_readable(db, reader, candidates: list[int]) -> int:
    """The reflection page the bench shows: the first candidate (a note about a citizen with
    replies, else a reflection with replies) the reader may read once consents changed."""
    from coprod import policy
    from coprod.reflections.models import Reflection

    for reflection_id in candidates:
        if policy.may(reader, "read", db.session.get(Reflection, reflection_id)):
            return reflection_id
    raise RuntimeError("the seed has no reflection with replies for the reader")


def _count_unread(db, user_ids: list[int]) -> None:
    """users.unread_notifications, as notifications.operations keeps it: the unread rows."""
    from sqlalchemy import func, update

    from coprod.accounts.models import User
    from coprod.routines.models import Notification

    db.session.execute(update(User).where(User.id.in_(user_ids)).values(
        unread_notifications=select(func.count(Notification.id)).where(
            Notification.user_id == User.id, Notification.read_at.is_(None))
        .scalar_subquery()).execution_options(synchronize_session=False))


def seed(db, n: int, *, rng_seed: int = 12, consent_changes: bool = True) -> Seeded:
    """Seed one collaboration of n reflections into the (empty, migrated) database; commits.
    Without consent_changes, every consent stays as first given (for tests/test_bench.py)."""
    from coprod import policy
    from coprod.accounts import operations as accounts

    rng = random.Random(rng_seed)
    now = datetime.now(UTC)
    # The bench's accounts log in once a run: argon2id with its cheapest parameters (as the
    # test suite's) spares the seed 0.1 s per member; a hash keeps its parameters.
    use_password_hashing(argon2.profiles.CHEAPEST)
    clock = time.perf_counter()
    world = _world(db, rng, max(2, min(400, n // 50)))
    timings = {"world": time.perf_counter() - clock}
    counts = _bulk(db, rng, world, n, now)
    timings["bulk"] = time.perf_counter() - clock - timings["world"]
    if consent_changes:
        _withdrawals(rng, world, policy.actor_for(world.coordinator))
    timings["withdrawals"] = time.perf_counter() - clock - timings["world"] - timings["bulk"]
    reader = accounts.find_user_by_email(READER_EMAIL)
    _token, secret = accounts.create_token(reader, "bench")
    shown = _first_readable(db, policy.actor_for(reader), counts.pop("shown"))
    db.session.commit()
    return Seeded(size=n, collaboration_id=world.collaboration.id, token=secret,
                  max_reflection_id=counts.pop("max_reflection_id"),
                  reflection_id=shown,
                  counts={**counts, "citizens": len(world.citizens),
                          "members": len(world.users)},
                  seconds={k: round(v, 1) for k, v in timings.items()})
