"""A world for reading digests: tests/citizens/conftest.py's partners and people, weekly
digests, and reflections of every visibility in this period and the one before it.

What the shelter may not read is written with words found nowhere else (SECRET_WORDS), so a
page or an email that shows them leaks; the note about the citizen has its own words too.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.digests import build, periods
from coprod.digests.models import DigestCadence, DigestSettings
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection, Visibility
from tests.citizens.conftest import build_world
from tests.factories import member

FIELDS = dict(perspective="citizens", component="resources", learning_level="inter",
              mode="exploitation")
# Only the café (its own), or only coordinators, may read these.
SECRET_WORDS = ("espresso", "grinder", "budget", "overspend")
CITIZEN_NOTE = "Anna prefers quiet mornings near the greenhouse"


def _post(w, author, body, *, kind="improve", visibility=Visibility.COLLABORATION,
          audience=(), **extra):
    return reflections.post_reflection(actor_for(author), w.collaboration, body=body,
                                       visibility=visibility, audience=list(audience),
                                       **{**FIELDS, "kind": kind, **extra})


def build_reading_world(db):
    w = build_world(db)
    w.observer = member(w.collaboration, Role.OBSERVER, display_name="Observer").user
    now = utcnow()
    db.session.add(DigestSettings(collaboration_id=w.collaboration.id,
                                  cadence=DigestCadence.WEEKLY,
                                  anchor_on=(now - timedelta(days=60)).date(),
                                  send_automatically=False))
    db.session.flush()
    w.period = periods.period_at(w.collaboration, now)
    earlier = []
    # Last week: the shelter wrote (and is silent now); the minibus theme begins.
    for body in ["Volunteer dog walking rota works well",
                 "Volunteer dog walking gives structure",
                 "Volunteer dog walking builds confidence"]:
        earlier.append(_post(w, w.shelter_staff, body, kind="works"))
    for body in ["Minibus timetable changes confuse everyone",
                 "Minibus timetable was late again"]:
        earlier.append(_post(w, w.case_worker, body))
    # This week, readable by every member: the minibus theme grows.
    for i, author in enumerate([w.case_worker, w.cafe_staff, w.coordinator, w.case_worker,
                                w.cafe_staff]):
        _post(w, author, f"Minibus timetable changes again, stop number {i} moved",
              kind="improve" if i % 2 else "works", component="routines")
    # The café's own: the shelter may not read it.
    for i in range(4):
        _post(w, w.cafe_staff, f"Espresso grinder broken, espresso machine needs grinder {i}",
              visibility=Visibility.ORGANIZATION, perspective="local")
    w.cafe_secret = _post(w, w.cafe_staff, "Grinder budget for the espresso bar",
                          visibility=Visibility.ORGANIZATION, perspective="local")
    # Coordinators only.
    for i in range(3):
        _post(w, w.coordinator, f"Budget overspend on taxis, overspend {i}",
              visibility=Visibility.COORDINATORS, component="governance")
    # Chosen partners: the job centre and the café.
    for i in range(3):
        _post(w, w.case_worker, f"Mentor meetings every week help, mentor {i}",
              visibility=Visibility.PARTNERS, audience=[w.cafe.id], kind="works")
    # About the citizen, for the café too (it may know her work preferences).
    _post(w, w.case_worker, CITIZEN_NOTE, visibility=Visibility.PARTNERS,
          audience=[w.cafe.id], citizen=w.citizen.id, categories=[w.preferences.id])
    # Actions done this week: one everybody reads, one on the café's own reflection.
    w.open_reflection = _post(w, w.coordinator, "Printed timetables would help")
    public = reflections.create_action(actor_for(w.coordinator), w.open_reflection,
                                       title="Print the new timetables",
                                       owner_partner_id=w.jobcentre.id)
    reflections.update_action(actor_for(w.coordinator), public, status="done",
                              done_note="Printed and handed out")
    secret = reflections.create_action(actor_for(w.cafe_staff), w.cafe_secret,
                                       title="Buy the espresso grinder",
                                       owner_partner_id=w.cafe.id)
    reflections.update_action(actor_for(w.cafe_staff), secret, status="done",
                              done_note="Bought")
    db.session.flush()
    db.session.execute(update(Reflection).where(Reflection.id.in_([r.id for r in earlier]))
                       .values(created_at=w.period.start - timedelta(days=2)))
    db.session.commit()
    return w


def build_digest(db, w, *, sent: bool = True):
    """The period's digest, sent (as when sent automatically) unless `sent` is False: then it
    waits for the coordinators' review, and only they may read it."""
    from coprod.digests.models import DigestStatus

    digest = build.build(w.collaboration, w.period)
    if sent:
        digest.status = DigestStatus.SENT
    db.session.commit()
    return digest


def expected_total(db, w, user) -> int:
    """This period's reflections the policy lets the user read, less their own ones their
    class may not read (a digest is the same for the whole class)."""
    actor = actor_for(user)
    seat = actor.seat(w.collaboration.id)
    found = 0
    for r in db.session.scalars(select(Reflection).where(
            Reflection.collaboration_id == w.collaboration.id,
            Reflection.created_at >= w.period.start)):
        if not policy.may(actor, "read", r):
            continue
        own_only = (r.author_id == user.id and seat.role != Role.COORDINATOR
                    and r.visibility == Visibility.COORDINATORS)
        found += 0 if own_only else 1
    return found
