"""Over random worlds, nothing a rule denies ever reaches a reader: not in a page, an API
response, a search result, an export or a message list.

Every reflection, reply and message carries a unique marker word. For every user (members,
members who left, strangers) the test reads every channel and collects the markers it sees;
they must be a subset of what policy.may allows that user. As a check that the test can fail,
the API feed must also show every readable, not withdrawn reflection.

The worlds also hold citizens (their pseudonym and name are markers too), the activities they
take part in, consents (in force, expired, not yet started) and citizen references on
reflections, replies and messages. Everything is read twice: before and after one change (a
consent withdrawn, one replaced by a consent that has already ended, or a citizen erased), and
the request after the change must show only what the policy allows then. Counts must not tell
of hidden content either: reply counts in the feed and on the detail page, the unread badges,
the unread counts of conversations and the totals of search are compared with counts made from
what the policy allows.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.citizens.models import (
    Citizen,
    CitizenReference,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.common import utcnow
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections.models import (
    Attribution,
    Component,
    FeedVisit,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Reflection,
    ReflectionAudience,
    Reply,
    Visibility,
)
from coprod.servicemap.models import Activity, InformationCategory
from tests.conftest import FreshRequestClient, fresh_world, run_worlds, shards, worlds
from tests.factories import (
    PASSWORD,
    CollaborationFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
)

# Each example reads every channel twice (before and after its change): 40 examples take
# about as long as 100 did when worlds held no citizens.
# 40 worlds in the ci profile (tests/conftest.py), fewer in dev, in shards that xdist runs
# side by side.
SHARDS = shards(8)
EXAMPLES = max(1, worlds(40) // SHARDS)
# r: reflection, p: reply, m: message, c: a citizen's pseudonym, n: a citizen's name
MARKER = re.compile(r"\bmk[rpmcn]\d+x\b")

world_specs = st.fixed_dictionaries({
    "collaborations": st.integers(1, 2),
    "partners": st.lists(st.integers(0, 1), min_size=1, max_size=4),
    "users": st.integers(2, 5),
    "seats": st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1),
                                st.sampled_from([Role.PARTNER_STAFF, *Role]),
                                st.integers(0, 3)), min_size=2, max_size=8),
    "reflections": st.lists(st.tuples(
        st.integers(0, 7), st.sampled_from(list(Visibility)), st.lists(st.integers(0, 3),
                                                                        max_size=2),
        st.sampled_from(list(Attribution)), st.booleans()), min_size=2, max_size=5),
    "replies": st.lists(st.tuples(st.integers(0, 4), st.integers(0, 7)), max_size=4),
    "conversations": st.lists(st.tuples(st.integers(0, 1), st.lists(st.integers(0, 4),
                                                                   max_size=3)), max_size=2),
    "leavers": st.lists(st.integers(0, 7), max_size=2),
    # -- citizens: indexes are of the collaboration's own partners, activities, categories --
    # (collaboration, performer partners)
    "activities": st.lists(st.tuples(st.integers(0, 1), st.lists(st.integers(0, 3),
                                                                 min_size=1, max_size=2)),
                           min_size=1, max_size=3),
    # (collaboration, activities)
    "citizens": st.lists(st.tuples(st.integers(0, 1), st.lists(st.integers(0, 2), min_size=1,
                                                               max_size=2)),
                         min_size=2, max_size=3),
    # (citizen, partners, categories, period)
    "consents": st.lists(st.tuples(
        st.integers(0, 1), st.lists(st.integers(0, 3), min_size=1, max_size=3),
        st.sampled_from([[0], [1], [0, 1]]), st.sampled_from(["now", "now", "past", "future"])),
        min_size=1, max_size=3),
    # (reflection|reply|message, which, citizen, categories)
    "references": st.lists(st.tuples(
        st.sampled_from(["reflection", "reflection", "reply", "message"]), st.integers(0, 4),
        st.integers(0, 1), st.sampled_from([[0], [1], [0, 1], []])), min_size=2, max_size=5),
    # then one change: withdraw a consent, let one expire, or erase a citizen
    "change": st.tuples(st.sampled_from(["withdraw", "expire", "erase"]), st.integers(0, 2)),
})

PERIODS = {"now": (-1, None), "past": (-10, -3), "future": (3, None)}


def _build(db, spec):
    collabs = [CollaborationFactory() for _ in range(spec["collaborations"])]
    partners = [PartnerFactory(collaboration=collabs[ci % len(collabs)])
                for ci in spec["partners"]]
    users = [UserFactory() for _ in range(spec["users"])]
    seats = []
    for ui, ci, role, pi in spec["seats"]:
        ui, collab = ui % len(users), collabs[ci % len(collabs)]
        if any(s.user is users[ui] and s.collaboration is collab for s in seats):
            continue
        own = [p for p in partners if p.collaboration is collab]
        partner = own[pi % len(own)] if own and role in (Role.PARTNER_STAFF,
                                                         Role.COORDINATOR) else None
        seats.append(MembershipFactory(user=users[ui], collaboration=collab, role=role,
                                       partner=partner))
    db.session.flush()
    reflections = []
    for si, visibility, audience, attribution, withdrawn in spec["reflections"]:
        if not seats:
            break
        seat = seats[si % len(seats)]
        own = [p for p in partners if p.collaboration_id == seat.collaboration_id]
        r = Reflection(collaboration_id=seat.collaboration_id, author_id=seat.user_id,
                       partner_id=seat.partner_id, kind=Kind.IMPROVE,
                       perspective=Perspective.CITIZENS, component=Component.ROUTINES,
                       learning_level=LearningLevel.INTER, mode=LearningMode.EXPLOITATION,
                       body="", visibility=visibility, attribution=attribution,
                       withdrawn_at=utcnow() if withdrawn else None)
        r.audience = [ReflectionAudience(partner_id=p.id)
                      for p in {own[i % len(own)] for i in audience}] if own else []
        db.session.add(r)
        db.session.flush()
        # a withdrawn reflection's text is erased, as withdraw_reflection does
        r.body = "" if withdrawn else f"shared mkr{r.id}x"
        reflections.append(r)
    replies, messages = [], []
    for ri, si in spec["replies"]:
        if reflections and seats:
            r = reflections[ri % len(reflections)]
            here = [s for s in seats if s.collaboration_id == r.collaboration_id]
            author = here[si % len(here)] if here else None
            if author is not None:
                reply = Reply(reflection_id=r.id, author_id=author.user_id, body="")
                db.session.add(reply)
                db.session.flush()
                reply.body = f"shared mkp{reply.id}x"
                replies.append(reply)
    for ci, members in spec["conversations"]:
        collab = collabs[ci % len(collabs)]
        people = sorted({users[i % len(users)].id for i in members})
        if not people:
            continue
        conversation = Conversation(collaboration_id=collab.id, subject="")
        conversation.participants = [Participant(user_id=u) for u in people]
        db.session.add(conversation)
        db.session.flush()
        message = Message(conversation_id=conversation.id, author_id=people[0], body="")
        db.session.add(message)
        db.session.flush()
        message.body = f"shared mkm{message.id}x"
        messages.append(message)
    _build_citizens(db, spec, collabs, partners,
                    {"reflection": reflections, "reply": replies, "message": messages})
    for li in spec["leavers"]:
        if seats and seats[li % len(seats)] in db.session:
            db.session.delete(seats[li % len(seats)])
    db.session.commit()
    return collabs, users


def _build_citizens(db, spec, collabs, partners, content):
    """Categories, activities, citizens, consents and references, as raw rows."""
    def own(items, collaboration_id):
        return [x for x in items if x.collaboration_id == collaboration_id]

    categories = [InformationCategory(collaboration_id=c.id, name=f"k{i}")
                  for c in collabs for i in range(2)]
    activities = []
    for ci, performers in spec["activities"]:
        collab = collabs[ci % len(collabs)]
        mine = own(partners, collab.id)
        activities.append(Activity(collaboration_id=collab.id, position=len(activities),
                                   name=f"a{len(activities)}",
                                   performers=list({mine[i % len(mine)] for i in performers})
                                   if mine else []))
    db.session.add_all(categories + activities)
    db.session.flush()
    citizens = []
    for ci, steps in spec["citizens"]:
        collab = collabs[ci % len(collabs)]
        here = own(activities, collab.id)
        citizen = Citizen(collaboration_id=collab.id, pseudonym="", name="",
                          activities=list({here[i % len(here)] for i in steps}) if here else [])
        db.session.add(citizen)
        db.session.flush()
        citizen.pseudonym, citizen.name = f"Pseudonym mkc{citizen.id}x", f"Name mkn{citizen.id}x"
        citizens.append(citizen)
    now = utcnow()
    for ci, chosen, kinds, when in spec["consents"]:
        citizen = citizens[ci % len(citizens)]
        mine, ks = own(partners, citizen.collaboration_id), own(categories,
                                                                citizen.collaboration_id)
        start, end = PERIODS[when]
        if mine:
            db.session.add(Consent(
                citizen_id=citizen.id, status=ConsentStatus.PERMIT,
                given_by=ConsentGiver.CITIZEN, method=ConsentMethod.PAPER,
                starts_at=now + timedelta(days=start),
                ends_at=None if end is None else now + timedelta(days=end),
                partners=list({mine[i % len(mine)] for i in chosen}),
                categories=[ks[k] for k in kinds]))
    taken = set()
    for kind, index, ci, kinds in spec["references"]:
        items = content[kind]
        if not items:
            continue
        item = items[index % len(items)]
        cid = (item.collaboration_id if kind == "reflection" else
               item.reflection.collaboration_id if kind == "reply" else
               db.session.get(Conversation, item.conversation_id).collaboration_id)
        here = own(citizens, cid)
        if here and (kind, item.id) not in taken:
            taken.add((kind, item.id))
            db.session.add(CitizenReference(
                citizen_id=here[ci % len(here)].id, **{f"{kind}_id": item.id},
                categories=[own(categories, cid)[k] for k in kinds]))
    db.session.flush()


def _change(db, spec):
    """One change, as the operations leave it: a consent withdrawn (a new record replacing
    it), replaced by one that has already ended, or a citizen erased (references gone)."""
    what, index = spec["change"]
    if what == "erase":
        citizens = db.session.scalars(select(Citizen).order_by(Citizen.id)).all()
        citizen = citizens[index % len(citizens)]
        db.session.execute(delete(CitizenReference).where(
            CitizenReference.citizen_id == citizen.id))
        citizen.pseudonym, citizen.name, citizen.erased_at = f"[erased] {citizen.id}", None, \
            utcnow()
        citizen.activities = []
    else:
        consents = db.session.scalars(select(Consent).order_by(Consent.id)).all()
        if not consents:
            return
        old = consents[index % len(consents)]
        now = utcnow()
        db.session.add(Consent(
            citizen_id=old.citizen_id, replaces_id=old.id, given_by=ConsentGiver.CITIZEN,
            method=ConsentMethod.ONLINE, partners=list(old.partners),
            categories=list(old.categories),
            status=ConsentStatus.WITHDRAWN if what == "withdraw" else ConsentStatus.PERMIT,
            starts_at=old.starts_at if what == "withdraw" else now - timedelta(days=20),
            ends_at=old.ends_at if what == "withdraw" else now - timedelta(seconds=1)))
    db.session.commit()


def _allowed(db, actor) -> tuple[set[str], set[str]]:
    """Markers the policy lets this actor read, and the reflections the feed must show."""
    allowed, must_show = set(), set()
    for r in db.session.scalars(select(Reflection)):
        if policy.may(actor, "read", r) and r.body:
            allowed.add(f"mkr{r.id}x")
            must_show.add(f"mkr{r.id}x")
    for reply in db.session.scalars(select(Reply)):
        if policy.may(actor, "read", reply):
            allowed.add(f"mkp{reply.id}x")
    for m in db.session.scalars(select(Message)):
        if policy.may(actor, "read", m):
            allowed.add(f"mkm{m.id}x")
    for c in db.session.scalars(select(Citizen)):
        if policy.may(actor, "read", c):
            allowed.add(f"mkc{c.id}x")
        if policy.may(actor, "read_identity", c):
            allowed.add(f"mkn{c.id}x")
    return allowed, must_show


def _expected_counts(db, actor, user_id, collab_ids) -> dict[tuple, int]:
    """The counts a reader should be shown, made from what policy.may allows them."""
    counts = {}
    readable = {r.id: r for r in db.session.scalars(select(Reflection))
                if policy.may(actor, "read", r)}
    replies = [r for r in db.session.scalars(select(Reply)) if policy.may(actor, "read", r)]
    conversations = {c.id: c for c in db.session.scalars(select(Conversation))}
    messages = [m for m in db.session.scalars(select(Message)) if policy.may(actor, "read", m)]
    for cid in collab_ids:
        here = [r for r in readable.values() if r.collaboration_id == cid]
        counts[("unread reflections", cid)] = sum(r.author_id != user_id for r in here)
        unread = [m for m in messages if conversations[m.conversation_id].collaboration_id == cid
                  and m.author_id != user_id]
        counts[("unread messages", cid)] = len(unread)
        for m in unread:
            key = ("conversation unread", m.conversation_id)
            counts[key] = counts.get(key, 0) + 1
        said = [m for m in messages if conversations[m.conversation_id].collaboration_id == cid]
        total = sum(bool(r.body) for r in here) + len(said) + sum(
            1 for r in replies if r.reflection_id in readable
            and readable[r.reflection_id].collaboration_id == cid
            and readable[r.reflection_id].withdrawn_at is None)
        counts[("search total", cid)] = total
    for r in replies:
        key = ("replies", r.reflection_id)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _badge(page: str, kind: str) -> int:
    found = re.search(rf'badge badge-{kind}">(\d+)<span class="visually-hidden">', page)
    return int(found.group(1)) if found else 0


def _per_item(page: str, anchor: str, count: str) -> dict[int, int]:
    """For each list item with id="<anchor>-<n>", the number before `count` in it."""
    parts = re.split(rf'id="{anchor}-(\d+)"', page)
    found = {}
    for ident, chunk in zip(parts[1::2], parts[2::2], strict=True):
        number = re.search(rf"(\d+) {count}", chunk)
        found[int(ident)] = int(number.group(1)) if number else 0
    return found


def _read_everything(app, user, collab_ids, token, details) -> tuple[str, dict, dict]:
    """Every channel's text as this user (web pages, exports, search and the API) and the
    counts they show. Pages that mark things read come after the counts."""
    browser = FreshRequestClient(app, app.response_class, use_cookies=True)
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    api = {"Authorization": f"Bearer {token}"}
    seen, feeds, counts = [], {}, {}

    def page(path):
        seen.append(browser.get(path).get_data(as_text=True))
        return seen[-1]

    def call(path):
        response = browser.get(f"/api/v1/collaborations/{path}", headers=api)
        seen.append(response.get_data(as_text=True))
        return response.get_json(silent=True) if response.status_code == 200 else None

    for cid in collab_ids:
        space = page(f"/c/{cid}")
        counts[("unread reflections", cid)] = _badge(space, "new")
        counts[("unread messages", cid)] = _badge(space, "unread")
        for ident, n in _per_item(page(f"/c/{cid}/messages"), "conversation", "unread").items():
            counts[("conversation unread", ident)] = n
        for item in (call(f"{cid}/conversations?page_size=100") or {}).get("items", []):
            assert item["unread_count"] == counts.get(("conversation unread", item["id"]), 0)
        for ident, n in _per_item(page(f"/c/{cid}/reflections"), "reflection",
                                  "repl").items():
            counts[("replies", ident)] = n
        feed = call(f"{cid}/reflections?limit=100")
        feeds[cid] = seen[-1]
        for item in (feed or {}).get("items", []):
            assert item["reply_count"] == counts.get(("replies", item["id"]), 0)
        found = re.search(r"(\d+) results? for", page(f"/c/{cid}/search?q=shared"))
        counts[("search total", cid)] = int(found.group(1)) if found else 0
        searched = call(f"{cid}/search?q=shared&page_size=100")
        assert (searched or {}).get("total", 0) == counts[("search total", cid)]
        for path in ("/export.csv", "/export-replies.csv", "/export.json", "/actions",
                     "/citizens"):
            page(f"/c/{cid}{path}")
        call(f"{cid}/export")
        call(f"{cid}/citizens")
        for kind, ident in details.get(cid, ()):
            if kind == "reflection":
                shown = re.search(r'id="replies-heading">(\d+) repl',
                                  page(f"/c/{cid}/reflections/{ident}"))
                if shown:
                    counts[("replies", ident)] = int(shown.group(1))
                call(f"{cid}/reflections/{ident}")
                call(f"{cid}/reflections/{ident}/replies?page_size=100")
            elif kind == "citizen":
                page(f"/c/{cid}/citizens/{ident}")
                call(f"{cid}/citizens/{ident}")
            else:
                call(f"{cid}/conversations/{ident}/messages?page_size=100")
                call(f"{cid}/conversations/{ident}")
                page(f"/c/{cid}/messages/{ident}")  # marks the conversation read: last
    page("/my/information")
    return "\n".join(seen), feeds, counts


def _details(db) -> dict[int, list[tuple[str, int]]]:
    """The detail pages worth reading: what references a citizen, and every citizen."""
    details: dict[int, list] = {}
    for reference in db.session.scalars(select(CitizenReference)):
        if reference.reflection_id or reference.reply_id:
            reflection = reference.reflection or reference.reply.reflection
            details.setdefault(reflection.collaboration_id, []).append(
                ("reflection", reflection.id))
        else:
            conversation = db.session.get(Conversation, reference.message.conversation_id)
            details.setdefault(conversation.collaboration_id, []).append(
                ("conversation", conversation.id))
    for citizen in db.session.scalars(select(Citizen)):
        details.setdefault(citizen.collaboration_id, []).append(("citizen", citizen.id))
    # conversations last: reading them marks them read
    return {cid: sorted(set(items), key=lambda d: (d[0] == "conversation", d))
            for cid, items in details.items()}


@pytest.mark.parametrize("shard", range(SHARDS))
def test_nothing_denied_reaches_any_channel(app, db, shard):
    def check(spec):
        with fresh_world(db):
            read_world(app, db, spec)

    run_worlds(world_specs, check, examples=EXAMPLES, shard=shard)


def read_world(app, db, spec):
    """Build the world once, then read every channel as every user, before and after one
    change."""
    collabs, users = _build(db, spec)
    collab_ids = [c.id for c in collabs]
    tokens = {}
    for user in users:
        _token, tokens[user.id] = create_token(user, "leak check")
    db.session.commit()
    details = _details(db)  # before the change: an erasure must not reopen what was hidden
    for moment in ("before", "after"):
        if moment == "after":
            _change(db, spec)
        # everything is unread again, so that the counts have something to tell
        db.session.execute(delete(FeedVisit))
        db.session.execute(update(Participant).values(last_read_at=None))
        db.session.commit()
        for user in users:
            db.session.expire_all()
            actor = policy.actor_for(user)
            allowed, must_show = _allowed(db, actor)
            expected = _expected_counts(db, actor, user.id, collab_ids)
            text, feeds, counts = _read_everything(app, user, collab_ids, tokens[user.id],
                                                   details)
            leaked = set(MARKER.findall(text)) - allowed
            assert not leaked, f"{moment}: user {user.id} saw {sorted(leaked)}"
            shown = set(MARKER.findall("\n".join(feeds.values())))
            assert must_show <= shown, (
                f"{moment}: user {user.id} misses {sorted(must_show - shown)}")
            wrong = {key: (n, expected.get(key, 0)) for key, n in counts.items()
                     if n != expected.get(key, 0)}
            assert not wrong, f"{moment}: user {user.id} shown (count, allowed): {wrong}"
