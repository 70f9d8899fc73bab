"""Role x action x object for citizens, consent and content about a citizen, per situation.

One collaboration serves one citizen in "Find a workplace" (performed by the job centre and a
mentor organization; a flow there carries work preferences from the job centre to the café).
The shelter performs "Volunteering", which is not this citizen's service; the library does
nothing for the citizen. The guardian consents to the job centre, the café and the shelter
receiving contact details and work preferences. So, with the consent in force:

- the job centre may know both categories (it performs an activity of the service);
- the café only work preferences (its need is the flow, which carries only those);
- the mentor has a need but no consent, the shelter a consent but no need, the library
  neither: they know nothing.

Content about the citizen is written as raw rows, visible to the whole collaboration, so that
only the citizen condition decides. Each situation changes one thing (the consent expired, not
yet started, withdrawn, narrowed; the citizen erased; the space archived) and every cell is
checked three ways by tests/policy/tables.check_table: policy.may, the SQL filter, and
get_or_404's 404 (unreadable) or 403 (readable but not allowed). This world is not
tables.base_world: its roles are the ones need-to-know and consent tell apart.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.citizens import operations as citizens
from coprod.citizens.models import (
    AuditAction,
    AuditEvent,
    Citizen,
    CitizenReference,
    Consent,
    ConsentGiver,
    ConsentMethod,
)
from coprod.extensions import db
from coprod.messages.models import Conversation, Message, Participant
from coprod.reflections.models import (
    Component,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Reflection,
    Reply,
    Visibility,
)
from coprod.servicemap import operations as servicemap
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.factories import (
    CollaborationFactory,
    OrganizationFactory,
    PartnerFactory,
    UserFactory,
    member,
)
from tests.policy.tables import NOBODY, check_table

ROLES = ["coord_partner", "coord_lone", "staff_ok", "staff_flow", "staff_no_consent",
         "staff_no_need", "staff_unrelated", "observer", "citizen", "guardian", "outsider",
         "anonymous"]
COORDS = {"coord_partner", "coord_lone"}
STAFF = {"staff_ok", "staff_flow", "staff_no_consent", "staff_no_need", "staff_unrelated"}
MEMBERS = COORDS | STAFF | {"observer", "citizen"}  # the guardian holds no seat
SUBJECTS = {"citizen", "guardian"}
# Partners with a need to know (perform an activity of the service, or receive a flow there).
NEED = {"coord_partner", "staff_ok", "staff_flow", "staff_no_consent"}
CASE_STAFF = NEED - COORDS

SITUATIONS = ["in_force", "expired", "not_yet", "withdrawn", "narrowed", "erased", "archived"]


def expected(situation: str) -> dict[str, dict[str, set[str]]]:
    """object -> action -> roles allowed, in the situation, derived in plain words."""
    # Who may know which category right now (coordinators of the job centre included).
    knows = {
        "in_force": {"contact": {"coord_partner", "staff_ok"},
                     "preferences": {"coord_partner", "staff_ok", "staff_flow"}},
        "narrowed": {"contact": NOBODY, "preferences": {"coord_partner", "staff_ok"}},
        "archived": {"contact": {"coord_partner", "staff_ok"},
                     "preferences": {"coord_partner", "staff_ok", "staff_flow"}},
    }.get(situation, {"contact": NOBODY, "preferences": NOBODY})
    may_know = knows["contact"] | knows["preferences"]
    if situation == "erased":
        # The record stays as a key for the consents and audit, which coordinators keep;
        # the content stays, de-identified and read like any other.
        return {
            "collaboration": {"add_citizen": COORDS, "list_citizens": COORDS | STAFF},
            "citizen": {"read": COORDS, "read_identity": NOBODY, "read_at_work": NOBODY,
                        "update": NOBODY,
                        "record_consent": NOBODY, "withdraw_consent": NOBODY,
                        "read_consents": COORDS, "read_audit": COORDS, "download": NOBODY,
                        "erase": NOBODY, "reference": NOBODY},
            "consent": {"read": COORDS},
            "audit": {"read": COORDS},
            "note_preferences": {"read": MEMBERS},
            "note_contact": {"read": MEMBERS},
            "reply_preferences": {"read": MEMBERS},
            "message_preferences": {"read": MEMBERS},
        }
    active = situation != "archived"
    readers = COORDS | NEED | SUBJECTS
    return {
        "collaboration": {"add_citizen": COORDS if active else NOBODY,
                          "list_citizens": COORDS | STAFF},
        "citizen": {
            "read": readers,
            "read_identity": COORDS | SUBJECTS | may_know,
            # Reading citizens' information at work (2FA may be required): not the subjects.
            "read_at_work": COORDS | may_know,
            "update": COORDS if active else NOBODY,
            "record_consent": COORDS | SUBJECTS if active else NOBODY,
            "withdraw_consent": COORDS | CASE_STAFF | SUBJECTS,
            "read_consents": readers,
            "read_audit": COORDS | SUBJECTS,
            "download": COORDS | SUBJECTS,
            "erase": COORDS,
            "reference": may_know if active else NOBODY,
        },
        "consent": {"read": readers},
        "audit": {"read": COORDS | SUBJECTS},
        # Coordinators are not exempt: only partners that may know every category read it.
        "note_preferences": {"read": knows["preferences"]},
        "note_contact": {"read": knows["contact"]},
        "reply_preferences": {"read": knows["preferences"]},
        "message_preferences": {"read": knows["preferences"]},
    }


def _note(collab, author, partner, body):
    reflection = Reflection(
        collaboration_id=collab.id, author_id=author.id, partner_id=partner.id,
        kind=Kind.IMPROVE, perspective=Perspective.CITIZENS, component=Component.RESOURCES,
        learning_level=LearningLevel.INTER, mode=LearningMode.EXPLOITATION, body=body,
        visibility=Visibility.COLLABORATION)
    db.session.add(reflection)
    db.session.flush()
    return reflection


def _refer(citizen, categories, **subject):
    db.session.add(CitizenReference(citizen_id=citizen.id, categories=categories, **subject))


def build(situation: str):
    collab = CollaborationFactory(timezone="Europe/Copenhagen")
    org = {name: OrganizationFactory(name=name) for name in
           ("Job centre", "Café", "Mentors", "Animal shelter", "Library")}
    jobcentre, cafe, mentors, shelter, library = (
        PartnerFactory(collaboration=collab, organization=o) for o in org.values())
    seats = {
        "coord_partner": member(collab, Role.COORDINATOR, jobcentre),
        "coord_lone": member(collab, Role.COORDINATOR),
        "staff_ok": member(collab, Role.PARTNER_STAFF, jobcentre),
        "staff_flow": member(collab, Role.PARTNER_STAFF, cafe),
        "staff_no_consent": member(collab, Role.PARTNER_STAFF, mentors),
        "staff_no_need": member(collab, Role.PARTNER_STAFF, shelter),
        "staff_unrelated": member(collab, Role.PARTNER_STAFF, library),
        "observer": member(collab, Role.OBSERVER),
        "citizen": member(collab, Role.CITIZEN),
        "outsider": member(CollaborationFactory(), Role.COORDINATOR),
    }
    users = {name: seat.user for name, seat in seats.items()}
    users["guardian"] = UserFactory()
    db.session.flush()
    boss = policy.actor_for(users["coord_lone"])
    contact = servicemap.create_category(boss, collab, name="Contact details")
    preferences = servicemap.create_category(boss, collab, name="Work preferences")
    workplace = servicemap.create_activity(boss, collab, name="Find a workplace",
                                           performer_ids=[jobcentre.id, mentors.id])
    servicemap.create_activity(boss, collab, name="Volunteering", performer_ids=[shelter.id])
    servicemap.create_flow(boss, workplace, from_partner_id=jobcentre.id,
                           to_partner_id=cafe.id, category_ids=[preferences.id])
    citizen = citizens.create_citizen(
        boss, collab, pseudonym="Citizen A", name="Anna Jensen", activity_ids=[workplace.id],
        user_id=users["citizen"].id, guardian_ids=[users["guardian"].id])
    today = date.today()
    starts, ends = {"expired": (today - timedelta(days=10), today - timedelta(days=3)),
                    "not_yet": (today + timedelta(days=5), None)}.get(
        situation, (today - timedelta(days=1), None))
    consent = citizens.give_consent(
        boss, citizen, partner_ids=[jobcentre.id, cafe.id, shelter.id],
        category_ids=[contact.id, preferences.id], purpose="Finding meaningful work",
        starts_on=starts, ends_on=ends, given_by=ConsentGiver.GUARDIAN,
        given_by_name="Guardian", method=ConsentMethod.PAPER)

    author = users["staff_ok"]
    note_preferences = _note(collab, author, jobcentre, "Anna wants café hours")
    note_contact = _note(collab, author, jobcentre, "Anna's phone number")
    plain = _note(collab, author, jobcentre, "The handover is slow")
    reply = Reply(reflection_id=plain.id, author_id=author.id, body="Anna agrees")
    conversation = Conversation(collaboration_id=collab.id, subject="Anna",
                                created_by_id=author.id)
    conversation.participants = [Participant(user_id=u.id) for u in users.values()]
    db.session.add_all([reply, conversation])
    db.session.flush()
    message = Message(conversation_id=conversation.id, author_id=author.id, body="Mornings")
    db.session.add(message)
    db.session.flush()
    _refer(citizen, [preferences], reflection_id=note_preferences.id)
    _refer(citizen, [contact], reflection_id=note_contact.id)
    _refer(citizen, [preferences], reply_id=reply.id)
    _refer(citizen, [preferences], message_id=message.id)
    db.session.flush()

    if situation == "withdrawn":
        citizens.withdraw_consent(policy.actor_for(users["guardian"]), consent)
    elif situation == "narrowed":
        citizens.give_consent(
            policy.actor_for(users["citizen"]), citizen, partner_ids=[jobcentre.id],
            category_ids=[preferences.id], purpose="Only the job centre", replaces=consent)
    elif situation == "erased":
        citizens.erase_citizen(boss, citizen)
    elif situation == "archived":
        collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    db.session.expire_all()
    created = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == AuditAction.CITIZEN_CREATED))
    objects = {
        "collaboration": collab, "citizen": citizen, "consent": consent, "audit": created,
        "note_preferences": note_preferences, "note_contact": note_contact,
        "reply_preferences": reply, "message_preferences": message,
    }
    actors = {name: policy.actor_for(user) for name, user in users.items()}
    actors["anonymous"] = policy.Actor(user_id=None)
    return objects, actors


@pytest.mark.parametrize("situation", SITUATIONS)
def test_citizen_table(db, situation):
    """Every cell of the situation's table, three ways."""
    objects, actors = build(situation)
    # The table has no "read" row for the collaboration: its members read it.
    failures = check_table(expected(situation), objects, actors, ROLES,
                           readers={"collaboration": MEMBERS}, label=situation)
    assert not failures, "\n".join(failures)


# Every (model, action) the table above checks, for tests/policy/test_coverage.py.
CHECKED = {
    (model, action)
    for model, name in ((Citizen, "citizen"), (Consent, "consent"), (AuditEvent, "audit"))
    for action in expected("in_force")[name]
} | {(model, "read") for model in (Reflection, Reply, Message)} | {
    (Collaboration, action) for action in expected("in_force")["collaboration"]}
