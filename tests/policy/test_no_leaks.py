"""Over random worlds, nothing a rule denies ever reaches a reader: not in a page, an API
response, a search result, an export or a message list.

Every reflection, reply and message carries a unique marker word. For every user (members,
members who left, strangers) the test reads every channel and collects the markers it sees;
they must be a subset of what policy.may allows that user. As a check that the test can fail,
the API feed must also show every readable, not withdrawn reflection.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.common import utcnow
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections.models import (
    Attribution,
    Component,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Reflection,
    ReflectionAudience,
    Reply,
    Visibility,
)
from tests.conftest import FreshRequestClient, reset_database
from tests.factories import (
    PASSWORD,
    CollaborationFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
)

EXAMPLES = int(os.environ.get("COPROD_LEAK_EXAMPLES", "100"))
MARKER = re.compile(r"\bmk[rpm]\d+x\b")

worlds = st.fixed_dictionaries({
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
})


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
    for li in spec["leavers"]:
        if seats and seats[li % len(seats)] in db.session:
            db.session.delete(seats[li % len(seats)])
    db.session.commit()
    return collabs, users


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
    return allowed, must_show


def _read_everything(app, user, collab_ids, token) -> tuple[str, dict[int, str]]:
    """Every channel's text as this user: web pages, exports, search and the API."""
    browser = FreshRequestClient(app, app.response_class, use_cookies=True)
    browser.post("/login", data={"email": user.email, "password": PASSWORD})
    api = {"Authorization": f"Bearer {token}"}
    seen, feeds = [], {}
    for cid in collab_ids:
        for page in ("/reflections", "/search?q=shared", "/export.csv", "/export-replies.csv",
                     "/export.json", "/messages", "/actions", ""):
            seen.append(browser.get(f"/c/{cid}{page}").get_data(as_text=True))
        feed = browser.get(f"/api/v1/collaborations/{cid}/reflections?limit=100",
                           headers=api).get_data(as_text=True)
        feeds[cid] = feed
        seen.append(feed)
        for path in ("search?q=shared&page_size=100", "export", "conversations?page_size=100"):
            seen.append(browser.get(f"/api/v1/collaborations/{cid}/{path}",
                                    headers=api).get_data(as_text=True))
    return "\n".join(seen), feeds


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=worlds)
def test_nothing_denied_reaches_any_channel(app, db, spec):
    db.session.remove()
    reset_database(db)
    collabs, users = _build(db, spec)
    collab_ids = [c.id for c in collabs]
    for user in users:
        actor = policy.actor_for(user)
        allowed, must_show = _allowed(db, actor)
        _token, secret = create_token(user, "leak check")
        db.session.commit()
        text, feeds = _read_everything(app, user, collab_ids, secret)
        leaked = set(MARKER.findall(text)) - allowed
        assert not leaked, f"user {user.id} saw {sorted(leaked)}"
        shown = set(MARKER.findall("\n".join(feeds.values())))
        assert must_show <= shown, f"user {user.id} misses {sorted(must_show - shown)}"
