"""Demo data: the worked example of DOMAIN.md, "Meaningful work", built through the operations.

A Danish municipality helps people on a disability pension find meaningful work with its job
centre, a residential care home, a community centre, a café and an animal shelter. `seed()`
creates the users, the collaboration, its partners with their responsibilities and resources,
the members (invited and accepted, as in real use) and a charter saved twice, so it has a
history. It flushes and never commits: `coprod demo` commits once.

Every demo account has one password: COPROD_DEMO_PASSWORD, or DEFAULT_DEMO_PASSWORD. It is
printed by `coprod demo` and meant for a local demo only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context

from coprod import policy
from coprod.accounts import operations as accounts
from coprod.accounts.models import Role, User
from coprod.citizens import operations as citizens
from coprod.citizens.models import ConsentGiver, ConsentMethod
from coprod.common import utcnow
from coprod.messages import operations as messaging
from coprod.reflections import operations as reflecting
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
