"""A reader's digest holds exactly what the policy lets their class read, and a withdrawal
changes the next view of an already built digest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.common import utcnow
from coprod.digests import build, periods, readers
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection, Visibility
from tests.citizens.conftest import build_world
from tests.factories import member

FIELDS = dict(kind="improve", perspective="citizens", component="resources",
              learning_level="inter", mode="exploitation")
WORDS = ["minibus timetable changes", "mentor meetings every week", "shift plan on fridays"]


@pytest.fixture
def world(db):
    w = build_world(db)
    w.observer = member(w.collaboration, Role.OBSERVER).user
    authors = [w.coordinator, w.case_worker, w.cafe_staff, w.shelter_staff]
    visibilities = [(Visibility.COLLABORATION, []), (Visibility.ORGANIZATION, []),
                    (Visibility.COORDINATORS, []), (Visibility.PARTNERS, "others")]
    for i in range(16):
        author = authors[i % 4]
        visibility, audience = visibilities[(i // 4) % 4]
        seat = actor_for(author).seat(w.collaboration.id)
        if audience == "others":
            audience = [p.id for p in (w.jobcentre, w.cafe, w.shelter)
                        if p.id != seat.partner_id][:1]
        reflections.post_reflection(actor_for(author), w.collaboration,
                                    body=f"{WORDS[i % 3]} number {i}", visibility=visibility,
                                    audience=audience,
                                    **{**FIELDS, "kind": ("works", "improve")[i % 2]})
    reflections.post_reflection(
        actor_for(w.case_worker), w.collaboration, body="Anna prefers mornings",
        visibility=Visibility.PARTNERS, audience=[w.cafe.id], citizen=w.citizen.id,
        categories=[w.preferences.id], **FIELDS)
    db.session.commit()
    return w


def expected(db, actor, user) -> int:
    """What the policy lets the reader read, less their own coordinators-only posts when
    they are not a coordinator (a digest is the same for the whole class)."""
    seat = actor.seat
    found = 0
    for r in db.session.scalars(select(Reflection)):
        if not policy.may(actor, "read", r):
            continue
        mine_only = (r.author_id == user.id and r.visibility == Visibility.COORDINATORS
                     and seat(r.collaboration_id).role != Role.COORDINATOR)
        found += 0 if mine_only else 1
    return found


def digest_of(db, world):
    period = periods.period_at(world.collaboration, utcnow())
    digest = build.build(world.collaboration, period)
    db.session.commit()
    return digest


READERS = ("coordinator", "lone_coordinator", "case_worker", "cafe_staff", "shelter_staff",
           "observer")


def test_each_class_counts_exactly_what_it_may_read(db, world):
    digest = digest_of(db, world)
    for name in READERS:
        user = getattr(world, name)
        actor = actor_for(user)
        seen = readers.view(digest, readers.class_of(actor, world.collaboration.id))
        assert seen.total == expected(db, actor, user), name


def test_a_withdrawal_changes_the_next_view_of_a_built_digest(db, world):
    digest = digest_of(db, world)
    cafe = readers.class_of(actor_for(world.cafe_staff), world.collaboration.id)
    before = readers.view(digest, cafe).total
    citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                              partner_id=world.cafe.id)
    db.session.commit()
    assert readers.view(digest, cafe).total == before - 1


def test_a_digest_is_built_once_per_period(db, world):
    first = digest_of(db, world)
    again = digest_of(db, world)
    assert first.id == again.id
