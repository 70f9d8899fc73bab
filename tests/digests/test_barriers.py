"""Barrier signals fire on worlds built to show each barrier, with their evidence, stay silent on
a healthy world, and never tell a reader about reflections they may not read."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from coprod.accounts.models import Role
from coprod.citizens.models import ConsentFriction
from coprod.common import utcnow
from coprod.digests import barriers, build, periods, readers
from coprod.digests.models import DigestCadence, DigestSettings
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from coprod.routines.models import Prompt, Routine
from coprod.servicemap import operations as servicemap
from tests.citizens.conftest import build_world
from tests.factories import OrganizationFactory, PartnerFactory, member

FIELDS = dict(perspective="collaboration", component="routines", learning_level="inter",
              mode="exploitation")
# Each topic keeps its kind, so the healthy world has themes but no disagreement. Each period
# says it in other words (a member who answers the routine with the same words each time is a
# superficial routine, not a healthy one).
TOPICS = [
    ("works", ["The Thursday café brings partners and citizens together without an agenda.",
               "Meeting informally over coffee on Thursdays mixes staff and citizens well.",
               "Our Thursday coffee mornings get partners and residents talking freely.",
               "Partners and citizens keep coming to the relaxed Thursday get-together."]),
    ("works", ["Short first shifts with one named mentor help new colleagues settle in.",
               "A single mentor and brief first shifts make the start at work easier.",
               "Newcomers settle faster when they start with short shifts and a fixed mentor.",
               "Starting with two-hour shifts beside the same mentor calms new workers."]),
    ("improve", ["Nobody owns the follow-up call after the first month at a workplace.",
                 "It is unclear who should phone the citizen a month into the new job.",
                 "The check-in call after four weeks at work keeps falling between us.",
                 "After the first month in a job, no partner takes charge of calling."]),
    ("works", ["Volunteers walking the dogs in pairs feel safer and come back more often.",
               "Pairing up for dog walks keeps our volunteers returning week after week.",
               "Dog walkers who go two by two feel more secure and stay with us longer.",
               "Walking shelter dogs together in twos keeps volunteers confident."]),
    ("improve", ["The shared calendar of partner meetings is out of date most weeks.",
                 "Our joint meeting calendar rarely shows the right dates.",
                 "Half the partner meetings in the common calendar are wrong or missing.",
                 "Nobody updates the partners' shared meeting schedule in time."]),
    ("works", ["Case workers visiting the workplace together with the citizen build trust.",
               "Joint visits to the workplace by case worker and citizen create trust.",
               "When the case worker comes along to the job, the citizen feels safer.",
               "Going to the employer side by side with the case worker builds confidence."]),
]
# Days into a period on which reflections are written: never within two days of its start,
# where the routine's prompts go out.
DAYS = (5, 9, 13, 17, 21, 25)


@pytest.fixture
def world(db):
    w = build_world(db)
    w.staff = {"jobcentre": w.case_worker, "cafe": w.cafe_staff, "shelter": w.shelter_staff,
               "coordinator": w.coordinator}
    today = utcnow().date()
    months = today.year * 12 + today.month - 1 - 4
    anchor = date(months // 12, months % 12 + 1, 1)
    db.session.add(DigestSettings(collaboration_id=w.collaboration.id,
                                  cadence=DigestCadence.MONTHLY, anchor_on=anchor))
    db.session.flush()
    # Four closed periods: the digest is the last one's, the others its history.
    w.periods = periods.closed_periods(w.collaboration)
    assert len(w.periods) == 4
    w.routine = Routine(collaboration_id=w.collaboration.id, name="Monthly reflection",
                        rule=periods.RULES[DigestCadence.MONTHLY], anchor_on=anchor,
                        timezone=w.collaboration.timezone, questions=[])
    db.session.add(w.routine)
    db.session.flush()
    return w


def post(w, who: str, period: int, day: int, text: str, kind: str, **extra):
    at = w.periods[period].start + timedelta(days=day, hours=10)
    reflection = reflections.post_reflection(actor_for(w.staff[who]), w.collaboration,
                                             body=text, kind=kind, **{**FIELDS, **extra})
    reflection.created_at = at
    return reflection


# Partners that depend on each other on the service map of build_world: a flow from the job
# centre to the café at "Find a workplace", which they both perform, followed by
# "Volunteering", which the shelter performs. In a healthy world each pair talks.
PAIRS = [("cafe", "jobcentre"), ("shelter", "cafe"), ("jobcentre", "shelter")]


def healthy(db, w, *, quiet: tuple[str, ...] = (), silent_pairs=()):
    """Every partner reflects in every period on steady topics, answers its prompts, and in
    the last period says "we see this too" to a partner it depends on (but ``silent_pairs``)."""
    written = {}
    for period in range(4):
        for n, who in enumerate(("jobcentre", "cafe", "shelter", "coordinator")):
            if period == 3 and who in quiet:
                continue
            for k in range(2):
                kind, said = TOPICS[(n * 2 + k + period) % len(TOPICS)]
                written[who] = post(w, who, period, DAYS[(n + k + period) % len(DAYS)],
                                    f"{said[period]} ({who})", kind)
        prompt(db, w, period, ("jobcentre", "cafe", "shelter", "coordinator"))
    db.session.flush()
    for who, whom in PAIRS:
        if (who, whom) not in silent_pairs and whom not in quiet:
            reaction = reflections.react(actor_for(w.staff[who]), written[whom])
            reaction.created_at = w.periods[3].start + timedelta(days=27)
    db.session.flush()


def prompt(db, w, period: int, people):
    for who in people:
        seat = actor_for(w.staff[who]).seat(w.collaboration.id)
        db.session.add(Prompt(routine_id=w.routine.id, user_id=w.staff[who].id,
                              partner_id=seat.partner_id, period_start=w.periods[period].start,
                              period_end=w.periods[period].end,
                              created_at=w.periods[period].start))
    db.session.flush()


def signals_for(db, w, user=None):
    digest = build.build(w.collaboration, w.periods[-1], rebuild=True)
    db.session.commit()
    reader = readers.class_of(actor_for(user or w.coordinator), w.collaboration.id)
    return barriers.signals(digest, readers.view(digest, reader), w.collaboration, reader)


def titled(found, title):
    return [s for s in found if s["title"] == title]


def texts(signal) -> str:
    return " | ".join(e["text"] for e in signal["evidence"])


def test_a_healthy_world_shows_no_barrier(db, world):
    healthy(db, world)
    found = signals_for(db, world)
    assert found == []
    for user in (world.cafe_staff, world.shelter_staff, world.lone_coordinator):
        assert signals_for(db, world, user) == []


def test_a_partner_gone_quiet(db, world):
    healthy(db, world, quiet=("shelter",))

    [signal] = titled(signals_for(db, world), "A partner has gone quiet")

    assert signal["kind"] == barriers.STRUCTURAL_HOLE
    assert texts(signal) == ("Animal shelter: 6 reflections in the 3 periods before, none this "
                             "period.")


def test_a_partner_writing_only_for_itself_is_quiet_to_others_not_to_itself(db, world):
    healthy(db, world, quiet=("shelter",))
    post(world, "shelter", 3, 9, "We changed our feeding rota for the weekend.", "works",
         visibility=Visibility.ORGANIZATION)

    assert titled(signals_for(db, world, world.cafe_staff), "A partner has gone quiet")
    assert not titled(signals_for(db, world, world.shelter_staff), "A partner has gone quiet")


def test_actions_without_an_owner_or_overdue(db, world):
    healthy(db, world)
    boss = actor_for(world.coordinator)
    first = post(world, "cafe", 3, 6, "The minibus arrives after the café opens.", "improve")
    second = post(world, "jobcentre", 3, 7, "Citizens wait too long for a first visit.",
                  "improve")
    unowned = reflections.create_action(boss, first, title="Agree a new minibus time",
                                        owner_partner_id=world.cafe.id)
    overdue = reflections.create_action(boss, second, title="Visit within two weeks",
                                        owner_partner_id=world.jobcentre.id,
                                        owner_user_id=world.case_worker.id,
                                        due_on=world.periods[3].start.date() + timedelta(days=8))
    for action in (unowned, overdue):
        action.created_at = world.periods[3].start + timedelta(days=8)

    found = signals_for(db, world)

    [nobody] = titled(found, "Improvement actions without an owner")
    assert texts(nobody) == "An action of Café has nobody responsible for it."
    assert nobody["evidence"][0]["link"] == (
        f"/c/{world.collaboration.id}/reflections/{first.id}")
    [late] = titled(found, "Improvement actions overdue")
    assert texts(late) == "An action of Job centre is past its due date."
    assert late["evidence"][0]["link"].endswith(f"/reflections/{second.id}")


def test_gaps_in_the_service_map(db, world):
    healthy(db, world)
    boss = actor_for(world.coordinator)
    library = PartnerFactory(collaboration=world.collaboration,
                             organization=OrganizationFactory(name="Library"))
    servicemap.create_activity(boss, world.collaboration, name="Evening club", performer_ids=[])
    servicemap.create_flow(boss, world.workplace, from_partner_id=world.cafe.id,
                           to_partner_id=library.id, category_ids=[world.contact.id])

    [gaps] = titled(signals_for(db, world), "Gaps in the service map")

    assert gaps["kind"] == barriers.STRUCTURAL_HOLE
    assert texts(gaps) == (
        "Nobody performs the activity “Evening club”. | Information flows from Café to Library "
        "at “Find a workplace”, but Library performs no activity in the service.")
    assert gaps["evidence"][0]["link"] == f"/c/{world.collaboration.id}/map"


CONFLICT = [
    "The minibus timetable to the café works well since the driver calls ahead",
    "Minibus timetable to the café: the driver calls ahead, which works well",
    "The café minibus timetable with the driver calling ahead works for our residents",
]
CONFLICT_IMPROVE = [
    "The minibus timetable to the café must improve, the driver never calls ahead",
    "Minibus timetable to the café needs improving: the driver does not call ahead",
    "The café minibus timetable needs work, the driver should call ahead",
]


def conflict(w, improve_visibility=Visibility.COLLABORATION):
    for i, text in enumerate(CONFLICT):
        post(w, "cafe", 3, DAYS[i], text, "works")
    for i, text in enumerate(CONFLICT_IMPROVE):
        post(w, "jobcentre", 3, DAYS[i] + 1, text, "improve", visibility=improve_visibility)


def test_partners_disagree_about_a_theme(db, world):
    healthy(db, world)
    conflict(world)

    [signal] = titled(signals_for(db, world), "Partners disagree about a theme")

    assert signal["kind"] == barriers.VALUE_CONFLICT
    assert re.search(r"Café: [23] say it works, 0 that it needs improving\.", texts(signal))
    assert re.search(r"Job centre: 0 say it works, [23] that it needs improving\.",
                     texts(signal))
    assert "/reflections/" in signal["evidence"][0]["link"]


def test_a_disagreement_is_not_shown_to_those_who_may_not_read_one_side(db, world):
    healthy(db, world)
    conflict(world, improve_visibility=Visibility.COORDINATORS)

    assert titled(signals_for(db, world), "Partners disagree about a theme")
    assert not titled(signals_for(db, world, world.cafe_staff), "Partners disagree about a theme")


def test_a_routine_whose_answers_fall(db, world):
    healthy(db, world)
    # Staff who never answer join the routine's audience period after period.
    extra = [("shelter", 1), ("cafe", 2), ("jobcentre", 2), ("shelter", 3), ("cafe", 3),
             ("jobcentre", 3)]
    for n, (key, since) in enumerate(extra):
        world.staff[f"silent{n}"] = member(world.collaboration, Role.PARTNER_STAFF,
                                           getattr(world, key)).user
        for period in range(since, 4):
            prompt(db, world, period, [f"silent{n}"])

    [signal] = titled(signals_for(db, world), "Fewer answers to the routine “Monthly reflection”")

    assert signal["kind"] == barriers.SUPERFICIAL_ROUTINE
    assert [e["figure"] for e in signal["evidence"]] == ["80%", "57%", "40%"]
    assert "4 of 10 prompts answered" in signal["evidence"][-1]["text"]


def test_reflections_only_right_after_prompts(db, world):
    everyone = ("jobcentre", "cafe", "shelter", "coordinator")
    healthy(db, world, quiet=everyone)
    for i in range(10):
        post(world, everyone[i % 2], 3, i % 2, f"Quick answer number {i} to the questions",
             "works")

    [signal] = titled(signals_for(db, world), "Reflections come only right after prompts")

    assert signal["kind"] == barriers.SUPERFICIAL_ROUTINE
    assert signal["evidence"][0]["figure"] == "100%"
    assert texts(signal) == ("100% of this period's reflections were written within two days "
                             "of a prompt.")


def test_posts_refused_and_categories_without_consent(db, world):
    healthy(db, world)
    for _ in range(2):
        db.session.add(ConsentFriction(collaboration_id=world.collaboration.id,
                                       partner_id=world.jobcentre.id,
                                       at=world.periods[3].start + timedelta(days=4)))
    # Support needs now flow to the café, but no consent names them.
    servicemap.create_flow(actor_for(world.coordinator), world.workplace,
                           from_partner_id=world.jobcentre.id, to_partner_id=world.cafe.id,
                           category_ids=[world.support.id])

    found = signals_for(db, world, world.cafe_staff)

    [refused] = titled(found, "Posts refused for lack of consent")
    assert refused["kind"] == barriers.DATA_PROTECTION
    assert texts(refused) == ("2 posts about a citizen were refused because Job centre, in "
                              "their audience, lacked a need to know or consent.")
    [missing] = titled(found, "Information categories with no consent")
    assert texts(missing) == ("The service map has partners exchange “Support needs”, but no "
                              "citizen's consent covers it.")


def test_counts_in_the_evidence_take_the_singular_for_one(db, world):
    """ngettext, not "1 reflections" or "1 posts ... were refused"."""
    for period in range(4):
        for n, who in enumerate(("jobcentre", "cafe", "coordinator")):
            kind, text = TOPICS[(n + period) % len(TOPICS)]
            post(world, who, period, DAYS[(n + period) % len(DAYS)],
                 f"{text} ({who}, period {period})", kind)
    post(world, "shelter", 1, 9, "The dogs like the new walking route.", "works")
    db.session.add(ConsentFriction(collaboration_id=world.collaboration.id,
                                   partner_id=world.jobcentre.id,
                                   at=world.periods[3].start + timedelta(days=4)))
    db.session.flush()

    found = signals_for(db, world, world.cafe_staff)

    [quiet] = titled(found, "A partner has gone quiet")
    assert texts(quiet) == ("Animal shelter: 1 reflection in the 3 periods before, none this "
                            "period.")
    [refused] = titled(found, "Posts refused for lack of consent")
    assert texts(refused) == ("1 post about a citizen was refused because Job centre, in its "
                              "audience, lacked a need to know or consent.")


def test_the_evidence_in_finnish(db, world):
    healthy(db, world, quiet=("shelter",))
    with force_locale("fi"):
        [signal] = titled(signals_for(db, world), "Kumppani on hiljentynyt")
    assert texts(signal) == ("Animal shelter: 6 havaintoa edellisten 3 jakson aikana, ei yhtään "
                             "tällä jaksolla.")
UNCONNECTED = "Partners who depend on each other do not talk"


def test_partners_who_depend_on_each_other_on_the_map_but_do_not_talk(db, world):
    healthy(db, world, silent_pairs={("jobcentre", "shelter")})

    [signal] = titled(signals_for(db, world), UNCONNECTED)

    assert signal["kind"] == barriers.STRUCTURAL_HOLE
    assert texts(signal) == (
        "Job centre and Animal shelter depend on each other on the service map (“Find a "
        "workplace” is followed by “Volunteering”), but exchanged no message, reply, mention "
        "or reaction this period.")
    assert signal["evidence"][0]["link"] == f"/c/{world.collaboration.id}/map"
    # the pair's own members see it; a third partner is not told whether two others talk
    assert titled(signals_for(db, world, world.shelter_staff), UNCONNECTED)
    assert not titled(signals_for(db, world, world.cafe_staff), UNCONNECTED)


def test_a_flow_without_contact_and_what_counts_as_contact(db, world):
    from sqlalchemy import update

    from coprod.messages import operations as messages
    from coprod.messages.models import Message

    healthy(db, world, silent_pairs=set(PAIRS))
    [signal] = titled(signals_for(db, world), UNCONNECTED)
    assert len(signal["evidence"]) == 3
    assert "(information flows at “Find a workplace”)" in texts(signal)

    # a message between the job centre and the café, a reply between the café and the
    # shelter: those pairs talked; the job centre and the shelter still did not
    in_period = world.periods[3].start + timedelta(days=20)
    conversation = messages.start_conversation(
        actor_for(world.case_worker), world.collaboration, [world.cafe_staff.id], "Shifts",
        "Can we move Friday's trial shift?")
    db.session.execute(update(Message).where(Message.conversation_id == conversation.id)
                       .values(created_at=in_period))
    shelter_said = post(world, "shelter", 3, 12, "Dog walking rota changes next week.",
                        "works")
    answer = reflections.reply(actor_for(world.cafe_staff), shelter_said,
                               "We can send two guests on Tuesday.")
    answer.created_at = in_period
    db.session.flush()

    [signal] = titled(signals_for(db, world), UNCONNECTED)
    assert texts(signal).startswith("Job centre and Animal shelter depend on each other")
    assert len(signal["evidence"]) == 1


BOILERPLATE = "Answers to the routine “Monthly reflection” say little"


def test_prompts_answered_with_a_few_words(db, world):
    everyone = ("jobcentre", "cafe", "shelter", "coordinator")
    healthy(db, world, quiet=everyone)
    for n, (who, said) in enumerate(zip(everyone, ["Nothing new.", "OK", "Intet nyt.",
                                                   "Ei uutta."], strict=True)):
        post(world, who, 3, 3 + n, said, "works")

    [signal] = titled(signals_for(db, world), BOILERPLATE)

    assert signal["kind"] == barriers.SUPERFICIAL_ROUTINE
    assert signal["evidence"][0]["figure"] == "100%"
    assert texts(signal) == ("4 of 4 prompts answered this period were answered with a few "
                             "words or with the member's earlier words again.")
    # the answers themselves are never quoted
    assert "Nothing new" not in texts(signal)


def test_prompts_answered_with_the_members_earlier_words_in_english_and_danish(db, world):
    everyone = ("jobcentre", "cafe", "shelter", "coordinator")
    healthy(db, world, quiet=everyone)
    again = {
        "jobcentre": ("Everything is running as usual, no changes to report this month.",
                      "Everything is running as usual - no changes to report this month!"),
        "cafe": ("Alt kører som det plejer, ingen ændringer at melde denne måned.",
                 "Alt kører som det plejer. Ingen ændringer at melde i denne måned."),
        "shelter": ("Same as last time: the volunteers come and the dogs are walked.",
                    "Same as last time, the volunteers come and the dogs get walked."),
    }
    for n, (who, (before, now)) in enumerate(again.items()):
        post(world, who, 2, 20 + n, before, "works")
        post(world, who, 3, 6 + n, now, "works")
    post(world, "coordinator", 3, 9, "The steering group agreed to fund the minibus for a "
         "further year, and asked partners for figures on trips.", "works")

    [signal] = titled(signals_for(db, world), BOILERPLATE)
    assert texts(signal).startswith("3 of 4 prompts answered this period")
    assert signal["evidence"][0]["figure"] == "75%"


def test_answers_in_other_words_each_period_are_no_boilerplate(db, world):
    healthy(db, world)
    assert not titled(signals_for(db, world), BOILERPLATE)


CONFLICT_PARAPHRASED = [
    "Having the driver ring before the bus leaves has made the café trips run smoothly.",
    "Since the minibus driver phones ahead, our guests are ready and the ride goes well.",
    "The bus to the café is a success now that the driver calls us before he sets off.",
    "Our guests like the minibus to the café: the driver rings them before pick-up.",
]
CONFLICT_IMPROVE_PARAPHRASED = [
    "The minibus to the café keeps coming late because the driver never calls ahead.",
    "Our citizens wait outside for the café bus; nobody phones them before it arrives.",
    "The café minibus needs fixing: without a call from the driver people miss it.",
    "Trips to the café go wrong, as the bus driver does not ring before pick-up.",
]
CONFLICT_DANISH = [
    "Minibussen til caféen fungerer godt, siden chaufføren ringer i forvejen.",
    "Vores gæster er klar, fordi chaufføren på bussen til caféen ringer før afgang.",
    "Turen med minibussen til caféen går fint nu, hvor chaufføren ringer til os.",
    "Gæsterne er glade for caféens minibus: chaufføren ringer, før han henter dem.",
]
CONFLICT_IMPROVE_DANISH = [
    "Minibussen til caféen kommer for sent, og chaufføren ringer aldrig i forvejen.",
    "Bussen til caféen skal forbedres: vores borgere venter, fordi chaufføren ikke ringer.",
    "Chaufføren på minibussen til caféen bør ringe, før han kører; det virker ikke nu.",
    "Vores borgere står og venter på minibussen til caféen, fordi ingen ringer til dem.",
]


def disagree(w, works, improve):
    for i, text in enumerate(works):
        post(w, "cafe", 3, DAYS[i], text, "works")
    for i, text in enumerate(improve):
        post(w, "jobcentre", 3, DAYS[i] + 1, text, "improve")


@pytest.mark.parametrize(("works", "improve"), [
    (CONFLICT_PARAPHRASED, CONFLICT_IMPROVE_PARAPHRASED),
    (CONFLICT_DANISH, CONFLICT_IMPROVE_DANISH),
], ids=["english-paraphrased", "danish"])
def test_partners_disagree_in_other_words_and_in_danish(db, world, works, improve):
    healthy(db, world)
    disagree(world, works, improve)

    [signal] = titled(signals_for(db, world), "Partners disagree about a theme")

    assert re.search(r"Café: [234] say it works, 0 that it needs improving\.", texts(signal))
    assert re.search(r"Job centre: 0 say it works, [234] that it needs improving\.",
                     texts(signal))


def test_partners_disagree_across_english_and_danish(db, world):
    healthy(db, world)
    disagree(world, CONFLICT_PARAPHRASED, CONFLICT_IMPROVE_DANISH)

    [signal] = titled(signals_for(db, world), "Partners disagree about a theme")
    assert re.search(r"Job centre: 0 say it works, [234] that it needs improving\.",
                     texts(signal))
