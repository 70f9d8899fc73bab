"""The demo data is the worked example of docs/domain.md, built as real use would build it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from coprod import demo, policy
from coprod.accounts.models import Invitation, Role, User
from coprod.common import utcnow
from coprod.spaces import queries
from coprod.spaces.models import Interdependence, Purpose, RemitKind, Sector

PASSWORD = "demo password for tests"


def seeded(db):
    result = demo.seed(PASSWORD)
    db.session.commit()
    coordinator = policy.actor_for(
        db.session.scalar(select(User).where(User.email == demo.DEMO_COORDINATOR_EMAIL)))
    collaboration = queries.my_collaborations(coordinator)[0]
    return result, coordinator, collaboration


def test_the_collaboration_is_the_meaningful_work_service(db):
    result, coordinator, collaboration = seeded(db)

    assert result.created
    assert collaboration.title == "Meaningful work"
    assert collaboration.purpose == Purpose.NEW_SERVICE
    assert collaboration.remit_kind == RemitKind.SOCIAL_GROUP
    assert collaboration.remit == "People on a disability pension"
    assert collaboration.interdependence == Interdependence.RECIPROCAL
    assert collaboration.timezone == "Europe/Copenhagen"
    assert "animal shelter" in collaboration.description


def test_partners_span_the_sectors_and_describe_what_they_bring(db):
    _result, coordinator, collaboration = seeded(db)

    partners = {p.name: p for p in queries.partners_of(coordinator, collaboration)}

    assert {name: p.organization.sector for name, p in partners.items()} == {
        "Skovby Job Centre": Sector.PUBLIC,
        "Lindely Residential Care Home": Sector.PUBLIC,
        "Skovby Community Centre": Sector.PUBLIC,
        "Café Solsikke": Sector.PRIVATE,
        "Skovby Animal Shelter": Sector.THIRD_SECTOR,
    }
    for partner in partners.values():
        assert partner.responsibilities and partner.resources
        for item in [*partner.responsibilities, *partner.resources]:
            assert item.description.endswith(".") and len(item.description.split()) >= 8
    kinds = {r.kind.value for p in partners.values() for r in p.responsibilities}
    tangibility = {r.tangibility.value for p in partners.values() for r in p.resources}
    assert kinds == {"strategic", "operational"}
    assert tangibility == {"tangible", "intangible", "both"}


def test_members_hold_their_roles_on_behalf_of_their_partners(db):
    _result, coordinator, collaboration = seeded(db)

    members = {m.user.email: m for m in queries.members_of(coordinator, collaboration)}

    assert members[demo.DEMO_COORDINATOR_EMAIL].role == Role.COORDINATOR
    assert members[demo.DEMO_COORDINATOR_EMAIL].partner.name == "Skovby Job Centre"
    staff = {m.partner.name for m in members.values() if m.role == Role.PARTNER_STAFF}
    assert staff == {p.name for p in demo.PARTNERS}
    for role in (Role.CITIZEN, Role.GUARDIAN, Role.OBSERVER):
        holders = [m for m in members.values() if m.role == role]
        assert len(holders) == 1 and holders[0].partner is None
    # Every member but the coordinator joined by an invitation they accepted.
    invitations = queries.invitations_of(coordinator, collaboration)
    assert sorted(i.email for i in invitations) == sorted(
        e for e in members if e != demo.DEMO_COORDINATOR_EMAIL)
    assert {i.status for i in invitations} == {"accepted"}


def test_every_demo_account_logs_in_and_sees_the_collaboration(db, app):
    seeded(db)

    for person in demo.PEOPLE:
        browser = app.test_client()
        page = browser.post("/login", data={"email": person.email, "password": PASSWORD},
                            follow_redirects=True)
        assert page.status_code == 200, person.email
        assert "Meaningful work" in page.get_data(as_text=True), person.email


def test_the_charter_answers_the_four_questions_with_a_history(db):
    _result, coordinator, collaboration = seeded(db)

    charter = collaboration.charter
    for field, _question in type(charter).QUESTIONS:
        assert len(getattr(charter, field).split()) > 30, field
    history = queries.charter_history(coordinator, collaboration)
    assert [r.version for r in history] == [2, 1]
    assert {r.edited_by.email for r in history} == {demo.DEMO_COORDINATOR_EMAIL}
    assert history[1].routines == ""  # the first draft left the routines open


def test_the_demo_world_follows_the_policy(db):
    _result, _coordinator, collaboration = seeded(db)
    partners = {p.name: p for p in collaboration.partners}

    def actor(email):
        return policy.actor_for(db.session.scalar(
            select(User).where(User.email == email)))

    cafe = actor("cafe@demo.example.org")
    assert policy.may(cafe, "update", partners["Café Solsikke"])
    assert not policy.may(cafe, "update", partners["Skovby Animal Shelter"])
    assert not policy.may(cafe, "update", collaboration.charter)
    citizen = actor("citizen@demo.example.org")
    assert [c.title for c in queries.my_collaborations(citizen)] == ["Meaningful work"]


def test_seeding_again_changes_nothing(db):
    from coprod.digests.models import Digest

    seeded(db)
    invitations = db.session.scalars(select(Invitation.id)).all()

    again = demo.seed(PASSWORD)

    assert not again.created
    assert again.password_matches
    assert [login.email for login in again.logins] == [p.email for p in demo.PEOPLE]
    assert db.session.scalars(select(Invitation.id)).all() == invitations
    assert len(db.session.scalars(select(Digest.id)).all()) == 4
    assert not demo.seed("another password entirely").password_matches


def test_the_case_workers_note_about_the_citizen_reaches_the_cafe_not_the_shelter(db):
    from coprod.citizens.models import Citizen
    from coprod.reflections.models import Reflection

    seeded(db)

    def actor(email):
        return policy.actor_for(db.session.scalar(select(User).where(User.email == email)))

    note = db.session.scalar(select(Reflection).where(Reflection.body.contains("Citizen 17")))
    citizen = db.session.scalar(select(Citizen))
    assert note.citizen_reference.citizen_id == citizen.id
    assert policy.may(actor("cafe@demo.example.org"), "read", note)
    assert policy.may(actor("jobcentre@demo.example.org"), "read", note)
    assert not policy.may(actor("shelter@demo.example.org"), "read", note)
    # The shelter takes part in finding a workplace, so it knows the pseudonym, not the name.
    assert policy.may(actor("shelter@demo.example.org"), "read", citizen)
    assert not policy.may(actor("shelter@demo.example.org"), "read_identity", citizen)
    assert policy.may(actor("guardian@demo.example.org"), "withdraw_consent", citizen)
    assert citizen.guardians[0].email == "guardian@demo.example.org"


def test_four_months_of_reflections_from_a_fortnightly_routine_and_their_digests(db):
    from coprod.digests.models import Digest, DigestStatus
    from coprod.reflections.models import Reflection
    from coprod.routines.models import Prompt, Routine

    _result, coordinator, collaboration = seeded(db)

    routine = db.session.scalar(select(Routine))
    assert routine.name == "Fortnightly reflection"
    assert routine.rule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    assert routine.roles == {Role.PARTNER_STAFF}
    assert routine.created_by_id == coordinator.user_id
    assert db.session.scalar(select(func.count()).select_from(Prompt)) >= 4 * 5
    past = db.session.scalars(select(Reflection).where(
        Reflection.created_at < collaboration.created_at - timedelta(days=1))).all()
    assert len({(r.created_at.year, r.created_at.month) for r in past}) >= 4
    assert len({r.partner_id for r in past}) == 5
    assert {str(r.kind) for r in past} == {"works", "improve"}
    assert len({str(r.component) for r in past}) == 4
    digests = db.session.scalars(select(Digest).order_by(Digest.period_start)).all()
    assert len(digests) == 4
    assert {d.status for d in digests} == {DigestStatus.SENT}
    assert [d.period_end for d in digests[:-1]] == [d.period_start for d in digests[1:]]
    assert digests[-1].period_end <= utcnow() and digests[-1].note


def test_the_latest_digest_shows_the_barriers_of_the_story(db):
    from coprod.digests import barriers, readers
    from coprod.digests.models import Digest

    _result, coordinator, collaboration = seeded(db)
    latest = db.session.scalars(select(Digest).order_by(Digest.period_start.desc())).first()
    view = readers.view(latest, readers.class_of(coordinator, collaboration.id))

    found = {s["title"]: " | ".join(e["text"] for e in s["evidence"])
             for s in barriers.signals(latest, view, collaboration)}

    assert "Skovby Community Centre" in found["A partner has gone quiet"]
    assert "that it needs improving" in found["Partners disagree about a theme"]
    assert "Café Solsikke: 0 say it works" not in found["Partners disagree about a theme"]
    assert "Lindely Residential Care Home: 0 say it works" in found[
        "Partners disagree about a theme"]
    falling = [s for s in barriers.signals(latest, view, collaboration)
               if s["kind"] == barriers.SUPERFICIAL_ROUTINE]
    assert [e["figure"] for e in falling[0]["evidence"]] == ["80%", "60%", "40%"]
    assert "Café Solsikke" in found["Improvement actions without an owner"]
    # behaviour: the care home and the café depend on each other on the map and stopped
    # talking; the last month's later prompts were answered with a few words
    assert found["Partners who depend on each other do not talk"].startswith(
        "Lindely Residential Care Home and Café Solsikke depend on each other")
    assert " | " not in found["Partners who depend on each other do not talk"]
    assert found["Answers to the routine “Fortnightly reflection” say little"].startswith(
        "2 of 4 prompts answered this period")
    assert "Skovby Animal Shelter" in found["Posts refused for lack of consent"]


def test_the_sent_digests_went_through_the_outbox_and_arrive_as_emails(db, outbox):
    """A digest that says "Sent" was sent: its emails are outbox rows, which the worker
    delivers (to instance/mail when there is no SMTP server)."""
    from coprod.digests.models import Digest, DigestStatus
    from coprod.mail.models import OutboxEmail

    seeded(db)
    digests = db.session.scalars(select(Digest).order_by(Digest.period_start)).all()
    assert digests and {d.status for d in digests} == {DigestStatus.SENT}
    coordinator = db.session.scalar(select(User).where(User.email == demo.DEMO_COORDINATOR_EMAIL))
    keys = set(db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key.startswith("digest:"))))
    assert {f"digest:{d.id}:{coordinator.id}" for d in digests} <= keys

    arrived = [m for m in outbox.messages()
               if m["Subject"].startswith("Learning digest of Meaningful work")]
    assert sorted(m["To"] for m in arrived) == [demo.DEMO_COORDINATOR_EMAIL] * len(digests)
    assert all(m["List-Unsubscribe"] for m in arrived)


def test_the_latest_digests_themes_are_labelled_without_function_words(db):
    from stop_words import get_stop_words

    from coprod.digests import reading
    from coprod.digests.models import Digest

    _result, coordinator, collaboration = seeded(db)
    latest = db.session.scalars(select(Digest).order_by(Digest.period_start.desc())).first()
    themes = reading.read(coordinator, latest, collaboration).themes

    assert themes
    function_words = {w for code in ("en", "da", "fi") for w in get_stop_words(code)}
    for theme in themes:
        assert not theme["label"].startswith("Theme ")
        for term in theme["label"].split(" · "):
            assert not set(term.split()) & function_words, theme["label"]
        assert theme["example"]["sentence"]
