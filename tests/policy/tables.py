"""One checker for the policy tables, and the world most of them are written against.

Each table file (test_rules_table, test_digest_rules, test_routine_rules, test_citizen_rules,
test_reflection_rules, test_service_map_rules) writes the policy's answers out as
object -> action -> roles allowed. Every cell must be checked the same three ways, because each
way is a separate path through coprod/policy that can drift from the others:

- policy.may: the answer for one object, in Python;
- policy.where: the SQL filter every list and search uses (is the object in the list?);
- policy.get_or_404: what a URL answers; 404 for what the actor may not read, so that its
  existence does not leak, 403 for what they may read but not do.

The six files had each grown a copy of that loop and the copies had started to differ; with
one checker a table says only what it expects. Every failing cell is reported at once, so a
changed rule shows its whole footprint in one run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.accounts.models import Role
from coprod.extensions import db
from coprod.spaces.models import Collaboration, CollaborationStatus, Membership, Partner
from tests.factories import CollaborationFactory, PartnerFactory, member

# The roles of base_world, and the sets the tables are written with.
ROLES = ["coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer", "outsider",
         "anonymous"]
MEMBERS = {"coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer"}
COORD = {"coordinator"}
NOBODY: set[str] = set()

Table = Mapping[str, Mapping[str, set[str]]]


def outcome_of(actor: policy.Actor, model: type, ident, action: str) -> str:
    """What a URL naming the object answers: "ok", "404" or "403"."""
    try:
        policy.get_or_404(actor, model, ident, action)
    except NotFound:
        return "404"
    except Forbidden:
        return "403"
    return "ok"


def check_table(table: Table, objects: Mapping[str, object],
                actors: Mapping[str, policy.Actor], roles: list[str], *,
                readers: Mapping[str, set[str]] | None = None, label: str = "") -> list[str]:
    """Check every (object, action, role) cell of `table`; return the failures, one line each.

    `objects` and `actors` give the object and the actor behind each name of the table. For a
    role the table refuses, get_or_404 must answer 404 if the role may not read the object and
    403 if it may: who reads is the object's own "read" row, or `readers[name]` for an object
    whose table has no "read" row (then it must be given: a missing one is an error, not a
    guess). A cell whose may or list answer is wrong is reported once, without get_or_404.
    """
    failures = []
    for name, actions in table.items():
        obj = objects[name]
        model = type(obj)
        pk = model.__mapper__.primary_key[0]
        ident = getattr(obj, pk.key)
        if "read" in actions:
            who_reads = actions["read"]
        elif readers is not None and name in readers:
            who_reads = readers[name]
        else:
            raise KeyError(f"{name}: no 'read' row in the table and no readers given")
        for action, allowed in actions.items():
            for role in roles:
                actor = actors[role]
                cell = f"{label} {name} {action} {role}".strip()
                want = role in allowed
                got = policy.may(actor, action, obj)
                listed = ident in set(db.session.scalars(
                    select(pk).select_from(model).where(policy.where(actor, model, action))))
                if got != want or listed != want:
                    failures.append(f"{cell}: expected {want}, may={got}, in list={listed}")
                    continue
                should = "ok" if want else ("403" if role in who_reads else "404")
                outcome = outcome_of(actor, model, ident, action)
                if outcome != should:
                    failures.append(f"{cell}: get_or_404 gave {outcome}, expected {should}")
    return failures


@dataclass
class World:
    """What base_world built. `people` holds each role's membership (the outsider's is in
    `elsewhere`); `objects` what the table file added; `actors` one fresh actor per role of
    ROLES."""

    collab: Collaboration
    elsewhere: Collaboration
    partners: tuple[Partner, Partner]
    people: dict[str, Membership]
    objects: dict[str, object] = field(default_factory=dict)
    actors: dict[str, policy.Actor] = field(default_factory=dict)

    def actor(self, role: str) -> policy.Actor:
        """A new actor for a role, to build objects with."""
        return policy.actor_for(self.people[role].user)


def base_world(status: CollaborationStatus,
               build: Callable[[World], dict[str, object]] | None = None) -> World:
    """One collaboration with two partners and one member of each role (coordinator, staff_a
    for the first partner, staff_b for the second, citizen, guardian, observer), plus an
    outsider coordinating another space and an anonymous actor.

    `build(world)` adds a table's own objects and returns them by name; it runs while the
    space is still active, since most operations refuse in an archived one. Then the space
    gets `status`, everything is committed, and the actors are made afterwards, so that
    nothing cached while building stands in for what the checks ask.
    """
    collab = CollaborationFactory()
    partners = (PartnerFactory(collaboration=collab), PartnerFactory(collaboration=collab))
    people = {
        "coordinator": member(collab, Role.COORDINATOR),
        "staff_a": member(collab, Role.PARTNER_STAFF, partners[0]),
        "staff_b": member(collab, Role.PARTNER_STAFF, partners[1]),
        "citizen": member(collab, Role.CITIZEN),
        "guardian": member(collab, Role.GUARDIAN),
        "observer": member(collab, Role.OBSERVER),
    }
    elsewhere = CollaborationFactory()
    people["outsider"] = member(elsewhere, Role.COORDINATOR)
    db.session.flush()
    world = World(collab=collab, elsewhere=elsewhere, partners=partners, people=people)
    if build is not None:
        world.objects = build(world)
    collab.status = status
    db.session.commit()
    world.actors = {name: policy.actor_for(seat.user) for name, seat in people.items()}
    world.actors["anonymous"] = policy.Actor(user_id=None)
    return world


def kept_and_defined_knowledge(db) -> tuple[set, set]:
    """The PartnerKnowledge rows the SQL filters read, and the rows their definition gives
    (coprod.policy.consent.knowledge_rows): equal whenever the session hook did its work."""
    from coprod.citizens.models import PartnerKnowledge
    from coprod.policy.consent import knowledge_rows

    k = PartnerKnowledge
    kept = set(db.session.execute(select(
        k.consent_id, k.citizen_id, k.partner_id, k.category_id, k.starts_at, k.ends_at)))
    return kept, set(db.session.execute(knowledge_rows()))
