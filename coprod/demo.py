"""Demo data: the worked example of docs/domain.md, "Meaningful work", built through the operations.

A Danish municipality helps people on a disability pension find meaningful work with its job
centre, a residential care home, a community centre, a café and an animal shelter. `seed()`
creates the users, the collaboration, its partners with their responsibilities and resources,
the members (invited and accepted, as in real use) and a charter saved twice, so it has a
history, and four months of reflections answering a fortnightly routine with their monthly
learning digests (the "learning history" section). It flushes and never commits: `coprod demo`
commits once.

Every demo account has one password: COPROD_DEMO_PASSWORD, or DEFAULT_DEMO_PASSWORD. It is
printed by `coprod demo` and meant for a local demo only.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app, has_request_context

from coprod import policy
from coprod.accounts import operations as accounts
from coprod.accounts.models import Role, User
from coprod.citizens import operations as citizens
from coprod.citizens.models import ConsentFriction, ConsentGiver, ConsentMethod
from coprod.common import utcnow
from coprod.digests import build, periods
from coprod.digests import operations as digest_operations
from coprod.extensions import db
from coprod.messages import operations as messaging
from coprod.reflections import operations as reflecting
from coprod.routines import operations as routine_operations
from coprod.routines import schedule, sweep
from coprod.routines.models import Prompt
from coprod.servicemap import operations as mapping
from coprod.spaces import operations as spaces
from coprod.spaces import queries
from coprod.spaces.models import (
    Collaboration,
    Interdependence,
    Purpose,
    RemitKind,
    ResponsibilityKind,
    Sector,
    Tangibility,
)

DEFAULT_DEMO_PASSWORD = "coprod-demo"  # noqa: S105  (documented, demo only)
TIMEZONE = "Europe/Copenhagen"
TITLE = "Meaningful work"

COLLABORATION = {
    "title": TITLE,
    "purpose": Purpose.NEW_SERVICE,
    "remit_kind": RemitKind.SOCIAL_GROUP,
    "remit": "People on a disability pension",
    "interdependence": Interdependence.RECIPROCAL,
    "timezone": TIMEZONE,
    "description": (
        "Skovby Municipality helps people on a disability pension find meaningful work: "
        "volunteering at the animal shelter, a few hours a week at the café. Together we help "
        "each citizen find and contact communities, employers and support organizations. "
        "Information about a citizen is shared only with the citizen's or their guardian's "
        "permission, and only with the partners whose part of the service needs it."
    ),
}


@dataclass(frozen=True)
class DemoPartner:
    key: str
    name: str
    sector: Sector
    responsibilities: tuple[tuple[ResponsibilityKind, str], ...]
    resources: tuple[tuple[Tangibility, str], ...]


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    role: Role
    partner: str | None  # a DemoPartner.key


STRATEGIC, OPERATIONAL = ResponsibilityKind.STRATEGIC, ResponsibilityKind.OPERATIONAL
TANGIBLE, INTANGIBLE, BOTH = Tangibility.TANGIBLE, Tangibility.INTANGIBLE, Tangibility.BOTH

PARTNERS = (
    DemoPartner(
        "jobcentre", "Skovby Job Centre", Sector.PUBLIC,
        responsibilities=(
            (STRATEGIC, "Sets the municipality's employment policy for citizens on a disability "
                        "pension and reports on the service to the labour market committee."),
            (OPERATIONAL, "Case workers meet each citizen, map their wishes and abilities, and "
                          "match them with a workplace or a community."),
            (OPERATIONAL, "Coordinates the collaboration: calls the partner meetings and keeps "
                          "the charter up to date."),
        ),
        resources=(
            (INTANGIBLE, "Case workers' knowledge of the rules for flexible jobs and disability "
                         "pensions, and of each citizen's history."),
            (TANGIBLE, "Meeting rooms at the job centre and a budget for the citizens' transport "
                       "to and from their workplaces."),
        ),
    ),
    DemoPartner(
        "carehome", "Lindely Residential Care Home", Sector.PUBLIC,
        responsibilities=(
            (OPERATIONAL, "Care staff help residents get ready for their working hours and go "
                          "with them the first few times."),
            (OPERATIONAL, "Tells the case worker, with the resident's consent, when changes in "
                          "health or mood affect their work."),
        ),
        resources=(
            (INTANGIBLE, "Day-to-day knowledge of each resident: their routines, what they enjoy "
                         "and what makes them anxious."),
            (BOTH, "A minibus and a driver trained in accompanying residents, who can take them "
                   "to the café and the shelter."),
        ),
    ),
    DemoPartner(
        "communitycentre", "Skovby Community Centre", Sector.PUBLIC,
        responsibilities=(
            (STRATEGIC, "Brings the voice of local associations into the municipality's plans "
                        "for inclusive communities."),
            (OPERATIONAL, "Runs the open Thursday café where citizens, partners and "
                          "associations meet."),
        ),
        resources=(
            (TANGIBLE, "Rooms, a kitchen and a workshop that partners may book free of charge."),
            (INTANGIBLE, "A network of about forty local associations looking for volunteers."),
        ),
    ),
    DemoPartner(
        "cafe", "Café Solsikke", Sector.PRIVATE,
        responsibilities=(
            (OPERATIONAL, "Offers two places of a few hours a week in the kitchen and at the "
                          "counter, each with a named colleague as mentor."),
            (STRATEGIC, "Speaks for the service in the local business association and invites "
                        "other employers to join."),
        ),
        resources=(
            (BOTH, "A real workplace with real customers, and staff used to training new "
                   "colleagues."),
        ),
    ),
    DemoPartner(
        "shelter", "Skovby Animal Shelter", Sector.THIRD_SECTOR,
        responsibilities=(
            (OPERATIONAL, "Welcomes citizens as volunteers who feed, walk and care for the "
                          "animals alongside the regular volunteers."),
            (OPERATIONAL, "Tells the case worker how each volunteer is doing, when the citizen "
                          "has agreed."),
        ),
        resources=(
            (TANGIBLE, "The shelter, its animals and the equipment for their daily care."),
            (INTANGIBLE, "Experienced volunteer coordinators who know how to welcome newcomers "
                         "with different needs."),
        ),
    ),
)

DEMO_COORDINATOR_EMAIL = "coordinator@demo.example.org"

PEOPLE = (
    DemoPerson(DEMO_COORDINATOR_EMAIL, "Mette Hansen", Role.COORDINATOR, "jobcentre"),
    DemoPerson("jobcentre@demo.example.org", "Lars Nielsen", Role.PARTNER_STAFF, "jobcentre"),
    DemoPerson("carehome@demo.example.org", "Sofie Pedersen", Role.PARTNER_STAFF, "carehome"),
    DemoPerson("communitycentre@demo.example.org", "Ahmed Karimi", Role.PARTNER_STAFF,
               "communitycentre"),
    DemoPerson("cafe@demo.example.org", "Jonas Berg", Role.PARTNER_STAFF, "cafe"),
    DemoPerson("shelter@demo.example.org", "Ida Larsen", Role.PARTNER_STAFF, "shelter"),
    DemoPerson("citizen@demo.example.org", "Peter Møller", Role.CITIZEN, None),
    DemoPerson("guardian@demo.example.org", "Anne Møller", Role.GUARDIAN, None),
    DemoPerson("observer@demo.example.org", "Karen Holm", Role.OBSERVER, None),
)

CHARTER_DRAFT = {
    "why": (
        "People on a disability pension tell us they want to contribute and to belong "
        "somewhere. None of us can offer that alone, so we build a new service together."
    ),
    "resources": (
        "The job centre matches citizens with places; the café and the animal shelter give "
        "them work."
    ),
    "assets": "We meet at the community centre on Thursdays.",
    "routines": "",
}

CHARTER = {
    "why": (
        "People on a disability pension tell us they want to contribute and to belong "
        "somewhere, not only to be cared for. None of us can offer that alone: the job centre "
        "knows the rules and the citizens' cases, the care home knows the residents day to day, "
        "and the café, the animal shelter and the community centre are where meaningful work "
        "happens. Together we create a new service that helps each citizen find work that "
        "means something to them, and keep it."
    ),
    "resources": (
        "Our resources are reciprocal: we depend on each other back and forth. The job "
        "centre's case workers match each citizen with a place; the care home prepares the "
        "citizen and drives them there in its minibus; the café and the shelter give the work "
        "and a mentor; the community centre lends its rooms and opens its network of "
        "associations. What one of us learns about a citizen's week changes what the others do "
        "next, so we coordinate often and briefly."
    ),
    "assets": (
        "We share this Coprod space for our reflections and this charter. We meet every "
        "Thursday at the community centre's open café, where citizens are welcome too. Each "
        "partner keeps its own IT system: information about a citizen is shared only with the "
        "citizen's or the guardian's consent, and only with the partners that need it for "
        "their part of the service."
    ),
    "routines": (
        "Every two weeks each partner answers three questions here: what works for us locally "
        "in the collaboration, what works for the citizens, and what needs to be improved. "
        "Once a month we read the digest together at the Thursday meeting and agree on one "
        "improvement to try. Each partner takes what we learn back into its own "
        "organization's routines."
    ),
}


def _reflection(kind, perspective, component, level, mode, visibility, body, **extra):
    return dict(kind=kind, perspective=perspective, component=component, learning_level=level,
                mode=mode, visibility=visibility, body=body, **extra)


REFLECTIONS = (
    ("mentor", "cafe@demo.example.org", _reflection(
        "works", "citizens", "routines", "inter", "exploitation", "collaboration",
        "Citizens who start with **two short shifts a week** and one fixed mentor stay on. "
        "The ones who started with long days left within a month.", tags=["onboarding",
                                                                           "mentoring"])),
    ("minibus", "carehome@demo.example.org", _reflection(
        "improve", "collaboration", "assets", "inter", "exploitation", "partners",
        "We hear about changed shifts at the café too late to plan the minibus. Residents then "
        "wait, or miss their shift, and lose courage.", tags=["transport", "planning"],
        audience_keys=("cafe", "jobcentre"))),
    ("volunteers", "shelter@demo.example.org", _reflection(
        "works", "local", "resources", "intra", "exploration", "organization",
        "Pairing each new volunteer with one of our regulars for the first month made our own "
        "volunteer coordination easier too.", tags=["mentoring"])),
    ("followup", "jobcentre@demo.example.org", _reflection(
        "improve", "citizens", "governance", "inter", "exploitation", "coordinators",
        "Nobody owns the follow-up after the first month at a workplace. We should agree who "
        "calls the citizen and when.", tags=["follow-up"])),
    ("thursday", "communitycentre@demo.example.org", _reflection(
        "works", "collaboration", "routines", "inter", "exploration", "collaboration",
        "The Thursday café has become the place where partners and citizens meet without an "
        "agenda. New ideas for workplaces came from there twice this month.",
        tags=["meetings"], attribution="organization")),
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class DemoResult:
    created: bool
    title: str
    partner_count: int
    charter_version: int
    logins: list[DemoLogin]
    password_matches: bool


# The service map of the worked example: categories of information, then the activities in
# order (performers, co-produced or not) and the flows at each: (from, to, categories).
CATEGORIES = (
    ("contact", "Contact details",
     "How to reach the citizen, and whom to call if they do not turn up."),
    ("needs", "Support needs",
     "What the citizen needs help with at work, for example breaks, quiet tasks or transport."),
    ("preferences", "Work preferences",
     "What the citizen would like to do, where, and how many hours a week."),
    ("progress", "Progress notes",
     "How the work is going, as the citizen and the mentor see it."),
)
ACTIVITIES = (
    ("First meeting with the case worker",
     "The case worker meets the citizen, explains the service and asks for consent.",
     False, ("jobcentre",),
     (("jobcentre", "carehome", ("contact",)),)),
    ("Mapping wishes and abilities",
     "The citizen, the case worker and care home staff talk about what the citizen would like "
     "to do and what they need.",
     False, ("jobcentre", "carehome"),
     (("carehome", "jobcentre", ("needs",)),)),
    ("Finding a workplace",
     "Together with the citizen, the case worker visits possible workplaces and communities.",
     True, ("jobcentre", "cafe", "shelter", "communitycentre"),
     (("jobcentre", "cafe", ("preferences", "needs")),
      ("jobcentre", "shelter", ("preferences", "needs")))),
    ("Preparing and transport",
     "The care home prepares the citizen for the working day and books the minibus.",
     False, ("carehome",),
     (("cafe", "carehome", ("contact",)),)),
    ("Working with a mentor",
     "At the café or the animal shelter a mentor works alongside the citizen.",
     True, ("cafe", "shelter"),
     (("cafe", "jobcentre", ("progress",)),
      ("shelter", "jobcentre", ("progress",)))),
    ("Follow-up",
     "Every three months the case worker, the citizen and the mentor look at how it goes.",
     False, ("jobcentre", "carehome"),
     (("jobcentre", "carehome", ("progress",)),)),
)

CASE_WORKER_EMAIL = "jobcentre@demo.example.org"
# The worked example's citizen. His guardian consents to the job centre, the care home and the
# café knowing about him; the animal shelter takes part in finding a workplace (a need to know)
# but has no consent, so it sees nothing about him.
CITIZEN = {
    "pseudonym": "Citizen 17",
    "name": "Peter Møller",
    "details": "Lives at Lindely Residential Care Home. Loves baking; anxious in crowds.",
    "service": ("First meeting with the case worker", "Mapping wishes and abilities",
                "Finding a workplace", "Preparing and transport", "Working with a mentor",
                "Follow-up"),
    "user": "citizen@demo.example.org",
    "guardian": "guardian@demo.example.org",
}
CONSENT = {
    "partners": ("jobcentre", "carehome", "cafe"),
    "categories": ("contact", "needs", "preferences", "progress"),
    "purpose": "Finding and keeping a few hours of meaningful work a week at Café Solsikke.",
}
CITIZEN_NOTE = dict(
    kind="works", perspective="citizens", component="resources", learning_level="inter",
    mode="exploitation",
    body="Citizen 17 would like two mornings a week in the café kitchen. A quiet task for the "
         "first hour helps him settle; he finds the lunch rush hard.")
CITIZEN_NOTE_REPLY = ("We can offer Tuesday and Thursday mornings from 9, starting with "
                      "preparing the bread dough before we open.")


def demo_password() -> str:
    """The one password of every demo account (documented; fine for a local demo only)."""
    return os.environ.get("COPROD_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def find_demo() -> Collaboration | None:
    """The demo collaboration, seen through its coordinator's eyes, if it was seeded before."""
    coordinator = accounts.find_user_by_email(DEMO_COORDINATOR_EMAIL)
    if coordinator is None:
        return None
    mine = queries.my_collaborations(policy.actor_for(coordinator))
    return next((c for c in mine if c.title == TITLE), None)


def seed(password: str) -> DemoResult:
    """Create the demo unless it exists; flushes, the caller commits once."""
    existing = find_demo()
    if existing is not None:
        return _result(existing, created=False, password=password)
    with _link_context():
        collaboration = _build(password)
    return _result(collaboration, created=True, password=password)


def _link_context():
    """invite() writes its link with url_for, which needs a request; a CLI command has none."""
    if has_request_context():
        return contextlib.nullcontext()
    return current_app.test_request_context("/", base_url=current_app.config["BASE_URL"])


def _build(password: str) -> Collaboration:
    users = {p.email: accounts.create_user(p.email, p.name, password, locale="en",
                                           timezone=TIMEZONE) for p in PEOPLE}
    actor = policy.actor_for(users[DEMO_COORDINATOR_EMAIL])
    collaboration = spaces.create_collaboration(actor, **COLLABORATION)
    partner_ids = {p.key: _add_partner(actor, collaboration, p).id for p in PARTNERS}
    _seat_coordinator(actor, collaboration, partner_ids)
    for person in PEOPLE:
        if person.email != DEMO_COORDINATOR_EMAIL:
            _invite_and_accept(actor, collaboration, person, users[person.email], partner_ids)
    spaces.update_charter(actor, collaboration.charter, **CHARTER_DRAFT)
    spaces.update_charter(actor, collaboration.charter, base_version=1, **CHARTER)
    category_ids, activity_ids = _draw_service_map(actor, collaboration, partner_ids)
    _reflect(collaboration, users, partner_ids)
    _serve_citizen(collaboration, users, partner_ids, category_ids, activity_ids)
    _learning_history(collaboration, users, partner_ids)
    return collaboration


def _draw_service_map(actor, collaboration: Collaboration, partner_ids: dict[str, int]
                      ) -> tuple[dict[str, int], dict[str, int]]:
    """The coordinator maps who does what and which information flows where; returns the ids
    of the categories (by key) and of the activities (by name)."""
    category_ids = {key: mapping.create_category(actor, collaboration, name=name,
                                                 description=description).id
                    for key, name, description in CATEGORIES}
    activity_ids = {}
    for name, description, co_produced, performers, flows in ACTIVITIES:
        activity = mapping.create_activity(
            actor, collaboration, name=name, description=description, co_produced=co_produced,
            performer_ids=[partner_ids[k] for k in performers])
        activity_ids[name] = activity.id
        for source, target, categories in flows:
            mapping.create_flow(actor, activity, from_partner_id=partner_ids[source],
                                to_partner_id=partner_ids[target],
                                category_ids=[category_ids[k] for k in categories])
    return category_ids, activity_ids


def _serve_citizen(collaboration: Collaboration, users: dict[str, User],
                   partner_ids: dict[str, int], category_ids: dict[str, int],
                   activity_ids: dict[str, int]) -> None:
    """The worked example's citizen: the coordinator records him and his guardian's consent,
    given on paper (the café yes, the animal shelter no); the case worker writes a note about
    him that the café may read and the shelter may not, and the café answers."""
    def as_(email):
        return policy.actor_for(users[email])

    citizen = citizens.create_citizen(
        as_(DEMO_COORDINATOR_EMAIL), collaboration, pseudonym=CITIZEN["pseudonym"],
        name=CITIZEN["name"], details=CITIZEN["details"],
        activity_ids=[activity_ids[name] for name in CITIZEN["service"]],
        user_id=users[CITIZEN["user"]].id, guardian_ids=[users[CITIZEN["guardian"]].id])
    today = utcnow().date()
    citizens.give_consent(
        as_(DEMO_COORDINATOR_EMAIL), citizen,
        partner_ids=[partner_ids[k] for k in CONSENT["partners"]],
        category_ids=[category_ids[k] for k in CONSENT["categories"]],
        purpose=CONSENT["purpose"], starts_on=today - timedelta(days=30),
        ends_on=today + timedelta(days=335), given_by=ConsentGiver.GUARDIAN,
        given_by_name=users[CITIZEN["guardian"]].display_name, method=ConsentMethod.PAPER)
    note = reflecting.post_reflection(
        as_(CASE_WORKER_EMAIL), collaboration, visibility="partners",
        audience=[partner_ids["cafe"]], citizen=citizen.id,
        categories=[category_ids["preferences"], category_ids["needs"]], **CITIZEN_NOTE)
    reflecting.reply(as_("cafe@demo.example.org"), note, CITIZEN_NOTE_REPLY,
                     citizen=citizen.id, categories=[category_ids["preferences"]])


def _reflect(collaboration: Collaboration, users: dict[str, User],
             partner_ids: dict[str, int]) -> None:
    """Staff of several partners reflect with different visibilities, answer, react, message
    each other, and an improvement becomes an action: every screen has something to show."""
    def as_(email):
        return policy.actor_for(users[email])

    posted = {}
    for key, email, fields in REFLECTIONS:
        extra = dict(fields)
        extra["audience"] = [partner_ids[k] for k in extra.pop("audience_keys", ())]
        posted[key] = reflecting.post_reflection(as_(email), collaboration, **extra)
    first = reflecting.reply(as_("cafe@demo.example.org"), posted["minibus"],
                             "We can send the week's shift plan every Friday before noon.")
    reflecting.reply(as_("carehome@demo.example.org"), posted["minibus"],
                     "That would solve most of it. Could it include the mentor's name?",
                     parent_id=first.id)
    reflecting.react(as_("shelter@demo.example.org"), posted["mentor"])
    reflecting.react(as_("communitycentre@demo.example.org"), posted["mentor"])
    talk = messaging.start_conversation(
        as_("carehome@demo.example.org"), collaboration,
        [users["cafe@demo.example.org"].id], subject="Minibus and shift changes",
        body="Could you tell us on Fridays which shifts change next week? Then we can book "
             "the minibus in time.")
    messaging.post_message(as_("cafe@demo.example.org"), talk,
                           "Yes: I will send the plan every Friday before noon.")
    reflecting.create_action(
        as_(DEMO_COORDINATOR_EMAIL), posted["minibus"],
        title="Share the café's shift plan with the care home every Friday",
        owner_partner_id=partner_ids["cafe"], owner_user_id=users["cafe@demo.example.org"].id,
        due_on=(utcnow() + timedelta(days=21)).date())


def _add_partner(actor, collaboration: Collaboration, demo_partner: DemoPartner):
    partner = spaces.add_partner(actor, collaboration, name=demo_partner.name,
                                 sector=demo_partner.sector)
    return spaces.describe_partner(
        actor, partner,
        responsibilities=[{"kind": k, "description": d} for k, d in demo_partner.responsibilities],
        resources=[{"tangibility": t, "description": d} for t, d in demo_partner.resources],
    )


def _seat_coordinator(actor, collaboration: Collaboration, partner_ids: dict[str, int]) -> None:
    """The coordinator created the space; now they act on behalf of the job centre."""
    coordinator = next(p for p in PEOPLE if p.email == DEMO_COORDINATOR_EMAIL)
    membership = queries.membership_of(actor, collaboration)
    spaces.change_member(actor, membership, role=Role.COORDINATOR,
                         partner_id=partner_ids[coordinator.partner])
    actor.forget()


def _invite_and_accept(actor, collaboration: Collaboration, person: DemoPerson, user: User,
                       partner_ids: dict[str, int]) -> None:
    """Members join the way they do in real use: invited by the coordinator, then accepted."""
    invitation = accounts.invite(
        actor, collaboration, person.email, person.role,
        partner_id=partner_ids[person.partner] if person.partner else None,
        message="Welcome to the demo of Meaningful work.",
    )
    accounts.accept_invitation(invitation, user)


def _result(collaboration: Collaboration, *, created: bool, password: str) -> DemoResult:
    coordinator = accounts.find_user_by_email(DEMO_COORDINATOR_EMAIL)
    actor = policy.actor_for(coordinator)
    members = {m.user.email: m for m in queries.members_of(actor, collaboration)}
    logins = [_login(person, members.get(person.email)) for person in PEOPLE]
    return DemoResult(
        created=created, title=collaboration.title,
        partner_count=len(queries.partners_of(actor, collaboration)),
        charter_version=collaboration.charter.version,
        logins=logins, password_matches=coordinator.check_password(password),
    )


def _login(person: DemoPerson, membership) -> DemoLogin:
    role = membership.role if membership is not None else person.role
    partner = membership.partner if membership is not None else None
    described = f"{role.label} ({partner.name})" if partner is not None else str(role.label)
    return DemoLogin(email=person.email, name=person.name, role=described)


# -- learning history: four months of reflections, a routine and the monthly digests ---------
#
# The digests need a past. The coordinator set up a fortnightly routine for partner staff and
# monthly digests four months ago; since then staff answered fewer and fewer prompts (the
# shelter after the first month, the job centre's staff after the second, the community centre
# after the third), the café and the care home came to disagree about the minibus, and an
# action was left without an owner. Reflections and prompts are created through the
# operations (prompts as the sweep makes them, without their emails) and then moved back in
# time; each closed month's digest is built as the worker would have built it, and counts as
# sent back then.

HISTORY_MONTHS = 4
ROUTINE = {
    "name": "Fortnightly reflection",
    "cadence": "fortnightly",
    "weekday": "TU",
    "time": time(9, 0),
    "roles": (Role.PARTNER_STAFF,),
    "nudge_after_days": 3,
}
STAFF = {p.partner: p.email for p in PEOPLE if p.role == Role.PARTNER_STAFF}
# Who answers the routine in each past month, oldest first: fewer and fewer.
ANSWERING = (
    ("jobcentre", "carehome", "communitycentre", "cafe", "shelter"),
    ("jobcentre", "carehome", "communitycentre", "cafe"),
    ("carehome", "communitycentre", "cafe"),
    ("carehome", "cafe"),
)


def _past(kind, perspective, component, body, *, level="inter", mode="exploitation",
          visibility="collaboration"):
    return _reflection(kind, perspective, component, level, mode, visibility, body)


# What each partner's staff wrote in each past month, one per fortnight that began in it.
PAST = (
    {
        "jobcentre": (
            _past("improve", "citizens", "governance",
                  "Nobody owns the follow-up call after a citizen's first month at a workplace. "
                  "Two citizens stopped going and we heard about it weeks later."),
            _past("works", "citizens", "resources",
                  "Visiting the workplace together with the citizen before the first day "
                  "works: both sides know what to expect and the first shift goes calmly."),
            _past("improve", "collaboration", "governance",
                  "The consent forms take most of the first meeting. Citizens get tired before "
                  "we talk about what work they would like."),
        ),
        "carehome": (
            _past("improve", "collaboration", "assets",
                  "Shift changes at the café reach us too late to book the minibus. A resident "
                  "waited an hour on Tuesday and then did not want to go."),
            _past("works", "citizens", "resources",
                  "Residents who lay out their work clothes the evening before leave calmly in "
                  "the morning. We now do it with everyone who works."),
            _past("improve", "collaboration", "assets",
                  "The minibus cannot take residents to the shelter and the café at the same "
                  "time on Thursdays; one of them always arrives late."),
        ),
        "communitycentre": (
            _past("works", "collaboration", "routines",
                  "The Thursday café brought a new association to the table: the garden club "
                  "wants two citizens to help with the spring planting.", mode="exploration"),
            _past("works", "collaboration", "routines",
                  "Meeting at the open Thursday café without an agenda lets partners solve "
                  "small problems on the spot instead of by email."),
            _past("works", "local", "resources",
                  "Booking our workshop for the citizens' bike repair morning was easy, and our "
                  "own volunteers joined in.", level="intra", mode="exploration"),
        ),
        "cafe": (
            _past("works", "citizens", "routines",
                  "Two short shifts a week with one fixed mentor keep new colleagues with us. "
                  "The one who started with full days left after a week."),
            _past("works", "local", "resources",
                  "Having a named mentor on each shift made our own staff more patient with "
                  "every new colleague, not only the citizens.", level="intra"),
            _past("improve", "collaboration", "assets",
                  "We do not always know whether the minibus is coming, so the mentor waits at "
                  "the door instead of starting the shift."),
        ),
        "shelter": (
            _past("works", "citizens", "resources",
                  "Pairing each new volunteer with one of our regulars for the first month "
                  "works: they walk the dogs together and nobody feels lost."),
            _past("works", "local", "resources",
                  "Our volunteer coordinators now write a short welcome plan for every "
                  "newcomer; it helps our regular volunteers too.", level="intra",
                  mode="exploration"),
            _past("improve", "citizens", "assets",
                  "The shelter is hard to reach by bus. Without the minibus a volunteer needs "
                  "an hour each way."),
        ),
    },
    {
        "jobcentre": (
            _past("improve", "citizens", "governance",
                  "Again the follow-up after the first month slipped: the mentor thought we "
                  "would call, we thought the mentor would. We need one owner."),
            _past("improve", "collaboration", "governance",
                  "Filling in the consent form at the first meeting is still too long. Could we "
                  "send it to the guardian beforehand?"),
            _past("works", "citizens", "resources",
                  "A second visit to the workplace with the citizen, a week in, catches small "
                  "worries before they grow."),
        ),
        "carehome": (
            _past("improve", "collaboration", "assets",
                  "The café's shift plan for next week arrived on Monday morning; the minibus "
                  "was already booked for other trips."),
            _past("works", "citizens", "resources",
                  "Residents talk about their work at dinner. It has become something the whole "
                  "house looks forward to."),
            _past("improve", "collaboration", "assets",
                  "Minibus trips clash again on Thursdays. We need to know the café and shelter "
                  "shifts at least a week ahead."),
        ),
        "communitycentre": (
            _past("works", "collaboration", "routines",
                  "At the Thursday café the shelter and the café agreed to share one mentor "
                  "training morning. Good ideas come from meeting informally.",
                  mode="exploration"),
            _past("works", "collaboration", "routines",
                  "The garden club took two citizens for the planting; the Thursday café is "
                  "where we found each other.", mode="exploration"),
            _past("improve", "collaboration", "routines",
                  "Fewer partners came to the Thursday café this month; maybe the time no "
                  "longer suits the care home's shifts."),
        ),
        "cafe": (
            _past("works", "citizens", "routines",
                  "Short shifts with one mentor keep working: our newest colleague asked for a "
                  "third morning herself."),
            _past("improve", "collaboration", "assets",
                  "The minibus came late twice, so the citizens started their shift in the "
                  "middle of the lunch rush."),
            _past("works", "local", "routines",
                  "We now plan the mentor rota together with the shift plan, so our own staff "
                  "know a week ahead who mentors.", level="intra"),
        ),
    },
    {
        "carehome": (
            _past("improve", "collaboration", "assets",
                  "Still no shift plan from the café before Friday noon. The minibus driver had "
                  "to cancel two trips."),
            _past("works", "citizens", "resources",
                  "One resident now takes the bus to the shelter alone on Saturdays. Months of "
                  "going with him paid off."),
            _past("improve", "collaboration", "governance",
                  "When a resident is ill we do not know whom to tell at the café or the "
                  "shelter. A single contact person would help."),
        ),
        "communitycentre": (
            _past("works", "collaboration", "routines",
                  "Thursday café: the library joined and offers a quiet reading corner for "
                  "citizens during their breaks.", mode="exploration"),
            _past("improve", "collaboration", "routines",
                  "Only two partners came to the Thursday café. Without the others it becomes "
                  "a chat, not coordination."),
            _past("works", "local", "resources",
                  "Our associations ask for more citizens as volunteers than we can match; the "
                  "network is ready.", level="intra", mode="exploration"),
        ),
        "cafe": (
            _past("works", "collaboration", "assets",
                  "Sending the shift plan to the care home every Friday before noon works: the "
                  "minibus was on time all week."),
            _past("works", "citizens", "routines",
                  "Two short shifts and a fixed mentor: all three citizens with us stayed past "
                  "three months."),
            _past("improve", "citizens", "resources",
                  "The lunch rush is too loud for one of our new colleagues; we need a quiet "
                  "task in the back for the first hour."),
        ),
    },
    {
        "carehome": (
            _past("improve", "collaboration", "assets",
                  "The minibus and the Friday shift plan from the café do not work for us: "
                  "changes made on Monday still reach us too late."),
            _past("improve", "collaboration", "assets",
                  "The minibus and the Friday shift plan need fixing: residents missed the "
                  "minibus twice after the café changed their shifts."),
            _past("improve", "collaboration", "assets",
                  "The minibus and the Friday shift plan still fail our residents; they lose "
                  "courage when they wait for the minibus."),
        ),
        "cafe": (
            _past("works", "collaboration", "assets",
                  "The minibus and the Friday shift plan work for us: the minibus brings our "
                  "new colleagues on time."),
            _past("works", "collaboration", "assets",
                  "The minibus and the Friday shift plan work well: since we send the plan "
                  "every Friday, shifts start calmly."),
            _past("works", "collaboration", "assets",
                  "The minibus and the Friday shift plan work; our mentors no longer wait at "
                  "the door for the minibus."),
        ),
    },
)
# The last month's later prompts, answered with a few words.
BOILERPLATE = {
    "carehome": _past("improve", "collaboration", "routines", "Same as before."),
    "cafe": _past("works", "collaboration", "routines", "Nothing new."),
}
# Who said "we see this too" to whose reflection in the last month (the coordinator speaks
# for the job centre): every pair that depends on each other on the map, but the care home
# and the café.
REACTIONS_LAST_MONTH = (
    ("jobcentre", "carehome"), ("jobcentre", "cafe"), ("shelter", "carehome"),
    ("shelter", "coordinator"), ("communitycentre", "carehome"),
    ("communitycentre", "coordinator"),
)
# The coordinator's own reflections, one in the middle of each past month.
COORDINATOR_PAST = (
    _past("improve", "collaboration", "governance",
          "Partners ask who owns the follow-up after the first month. I will put it on the next "
          "Thursday agenda.", visibility="coordinators"),
    _past("works", "collaboration", "routines",
          "The fortnightly questions are answered by almost every partner; the first digest "
          "gave us a clear agenda for Thursday."),
    _past("improve", "collaboration", "routines",
          "Fewer partners answer the fortnightly questions. I should ask the shelter and the "
          "community centre what gets in the way.", visibility="coordinators"),
    _past("improve", "citizens", "governance",
          "The follow-up after the first month is still missing for two citizens; the case "
          "workers are overloaded this month."),
)
DIGEST_NOTES = {
    2: "Read this before Thursday: fewer of us answer the fortnightly questions. Let us talk "
       "about what would make them worth answering.",
    3: "The café and the care home see the minibus arrangement differently. We will look at "
       "the shift changes made after Friday together on Thursday.",
}


def _months(today: date) -> list[date]:
    """The first days of the HISTORY_MONTHS months before this one, oldest first."""
    first = today.replace(day=1)
    found = []
    for _ in range(HISTORY_MONTHS):
        first = (first - timedelta(days=1)).replace(day=1)
        found.append(first)
    return found[::-1]


def _local_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time.min, schedule.zone(timezone)).astimezone(UTC)


def _learning_history(collaboration: Collaboration, users: dict[str, User],
                      partner_ids: dict[str, int]) -> None:
    """Monthly digests and a fortnightly routine set up four months ago, the answers to it
    month by month, two actions, two refused posts; then the digests of the closed months."""
    coordinator = policy.actor_for(users[DEMO_COORDINATOR_EMAIL])
    timezone = collaboration.timezone
    months = _months(routine_operations.local_today(timezone))
    digest_operations.update_settings(coordinator, collaboration, cadence="monthly",
                                      anchor_on=months[0], send_automatically=True)
    routine = routine_operations.create_routine(coordinator, collaboration, anchor_on=months[0],
                                                **ROUTINE)
    now = utcnow()
    seen = Counter()
    last = defaultdict(list)  # the last month's reflections, per partner
    for fortnight in _fortnights(routine, now):
        local_month = fortnight.start.astimezone(schedule.zone(timezone)).date().replace(day=1)
        if local_month not in months:
            continue  # this month's fortnights: its reflections are the ones posted now
        month = months.index(local_month)
        nth, seen[month] = seen[month], seen[month] + 1
        if fortnight.end <= now:  # the current fortnight's answers are still coming in
            _prompt(routine, fortnight)
        # Answers come within days of the prompt, and within its month (the month's digest).
        month_end = _local_start((local_month + timedelta(days=31)).replace(day=1), timezone)
        for order, partner in enumerate(ANSWERING[month]):
            at = min(fortnight.start + timedelta(days=1 + order, hours=order),
                     month_end - timedelta(hours=1 + order))
            if month == len(months) - 1 and nth > 0:
                # the last month's later prompts get boilerplate: a superficial routine
                last[partner].append(_post_back(users[STAFF[partner]], collaboration,
                                                BOILERPLATE[partner], at))
                continue
            said = PAST[month][partner]
            texts = list(said) if month == len(months) - 1 else [said[nth % len(said)]]
            for extra, fields in enumerate(texts):
                written = _post_back(users[STAFF[partner]], collaboration, fields,
                                     at + timedelta(hours=6 * extra))
                if month == len(months) - 1:
                    last[partner].append(written)
            written = last[partner][0] if month == len(months) - 1 else written
            if (month, partner, nth) == (1, "jobcentre", 0):
                _followed_up(coordinator, written, users, partner_ids, months, timezone)
            if (month, partner, nth) == (3, "carehome", 0):
                _left_unowned(coordinator, written, partner_ids)
    for month, fields in enumerate(COORDINATOR_PAST):
        last["coordinator"] = [_post_back(
            users[DEMO_COORDINATOR_EMAIL], collaboration, fields,
            _local_start(months[month], timezone) + timedelta(days=14, hours=9))]
    _talked_last_month(users, last)
    # The café twice tried to include the shelter in a note about Citizen 17: refused.
    for day in (8, 9):
        db.session.add(ConsentFriction(
            collaboration_id=collaboration.id, partner_id=partner_ids["shelter"],
            at=_local_start(months[-1], timezone) + timedelta(days=day, hours=10)))
    db.session.flush()
    _build_digests(coordinator, collaboration, now)


def _fortnights(routine, now: datetime) -> list[schedule.Period]:
    """The routine's periods begun by now, the current one too."""
    starts = schedule.occurrences_between(
        routine.rule, routine.anchor_on, routine.timezone,
        _local_start(routine.anchor_on, routine.timezone) - timedelta(seconds=1),
        now + timedelta(days=15))
    return [schedule.Period(a, b) for a, b in zip(starts, starts[1:], strict=False)
            if a <= now]


def _talked_last_month(users: dict[str, User], last: dict[str, list]) -> None:
    """In the last month, partners that depend on each other on the service map said "we see
    this too" to each other's reflections, all but the care home and the café, who disagree
    about the minibus and stopped talking: a structural hole the digest shows."""
    for who, whose in REACTIONS_LAST_MONTH:
        reflection = last[whose][0]
        reaction = reflecting.react(policy.actor_for(users[STAFF[who]]), reflection)
        reaction.created_at = reflection.created_at + timedelta(hours=2)
    db.session.flush()


def _prompt(routine, fortnight: schedule.Period) -> None:
    """The fortnight's prompts, as the sweep made them (their emails went out back then)."""
    for user_id, partner_id in sweep.audience(routine, fortnight):
        db.session.add(Prompt(routine_id=routine.id, user_id=user_id, partner_id=partner_id,
                              period_start=fortnight.start, period_end=fortnight.end,
                              created_at=fortnight.start))
    db.session.flush()


def _post_back(user: User, collaboration: Collaboration, fields: dict, at: datetime):
    """A reflection posted through the operation, then moved back to when it was written."""
    reflection = reflecting.post_reflection(policy.actor_for(user), collaboration, **fields)
    reflection.created_at = at
    db.session.flush()
    return reflection


def _followed_up(coordinator, reflection, users: dict[str, User], partner_ids: dict[str, int],
                 months: list[date], timezone: str) -> None:
    """"You said, we did": the follow-up gets an owner and is done the month after."""
    owner = users["jobcentre@demo.example.org"].id
    due = months[2] + timedelta(days=14)
    action = reflecting.create_action(
        coordinator, reflection, title="Agree who calls the citizen after the first month",
        owner_partner_id=partner_ids["jobcentre"], owner_user_id=owner, due_on=due)
    action.created_at = reflection.created_at + timedelta(days=2)
    reflecting.update_action(
        coordinator, action, status="done", due_on=due, owner_user_id=owner,
        done_note="The case worker now calls every citizen four weeks in, with the mentor on "
                  "the line.")
    action.done_at = _local_start(months[2], timezone) + timedelta(days=10, hours=11)
    db.session.flush()


def _left_unowned(coordinator, reflection, partner_ids: dict[str, int]) -> None:
    """An action the café owns but nobody at the café has taken on."""
    action = reflecting.create_action(
        coordinator, reflection, title="Tell the care home about shift changes made after Friday",
        owner_partner_id=partner_ids["cafe"])
    action.created_at = reflection.created_at + timedelta(days=1)
    db.session.flush()


def _build_digests(coordinator, collaboration: Collaboration, now: datetime) -> None:
    """Each closed month's digest, built and sent as when the month closed: sending queues its
    emails in the outbox like any digest (the worker of `coprod run` delivers them, to
    instance/mail without SMTP), so a digest that says "Sent" was sent."""
    for index, period in enumerate(periods.closed_periods(collaboration, now)):
        digest = build.build(collaboration, period, now=now)
        digest.built_at = period.end + timedelta(minutes=5)
        digest_operations.send_digest(coordinator, digest, note=DIGEST_NOTES.get(index))
        digest.sent_at = period.end + timedelta(minutes=6)
    db.session.flush()
