"""Role x action for learning digests, written out.

Every member reads the digests of their collaboration (what each sees in one is filtered per
permission class by coprod/digests/readers.py, tested in tests/digests); coordinators change
the digest settings and review, note and send a digest while the space is active. Every cell
is checked three ways as in test_rules_table: policy.may, the SQL filter, and get_or_404's 404
(unreadable) or 403 (readable but not allowed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from coprod import policy
from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.digests.models import Digest, DigestStatus
from coprod.extensions import db
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.factories import CollaborationFactory, PartnerFactory, member

ROLES = ["coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer", "outsider",
         "anonymous"]
MEMBERS = {"coordinator", "staff_a", "staff_b", "citizen", "guardian", "observer"}
COORD = {"coordinator"}
NOBODY: set[str] = set()

ACTIVE = {
    "collaboration": {"read": MEMBERS, "read_digests": MEMBERS, "digest_settings": COORD},
    "digest": {"read": MEMBERS, "review": COORD},
    # Built, waiting for the coordinators' review and note: theirs until sent.
    "digest_waiting": {"read": COORD, "review": COORD},
    "digest_elsewhere": {"read": {"outsider"}, "review": {"outsider"}},
}
# Archived: past digests stay readable; nothing is set up, reviewed or sent any more.
ARCHIVED = {
    **ACTIVE,
    "collaboration": {"read": MEMBERS, "read_digests": MEMBERS, "digest_settings": NOBODY},
    "digest": {"read": MEMBERS, "review": NOBODY},
    "digest_waiting": {"read": COORD, "review": NOBODY},
}
MODELS = {"collaboration": Collaboration, "digest": Digest, "digest_waiting": Digest,
          "digest_elsewhere": Digest}
# For tests/policy/test_coverage.py: every rule this table checks.
CHECKED = {(MODELS[name], action) for name, actions in ACTIVE.items() for action in actions}


def _digest(collab: Collaboration, status: DigestStatus = DigestStatus.SENT,
            days_ago: int = 0) -> Digest:
    end = utcnow() - timedelta(days=days_ago)
    digest = Digest(collaboration_id=collab.id, period_start=end - timedelta(days=7),
                    period_end=end, data={}, status=status)
    db.session.add(digest)
    return digest


def build_world(status: CollaborationStatus) -> tuple[dict, dict]:
    """One collaboration with two partners, a member of each role and a digest; a digest of a
    space elsewhere."""
    collab = CollaborationFactory()
    partner_a, partner_b = (PartnerFactory(collaboration=collab),
                            PartnerFactory(collaboration=collab))
    people = {
        "coordinator": member(collab, Role.COORDINATOR),
        "staff_a": member(collab, Role.PARTNER_STAFF, partner_a),
        "staff_b": member(collab, Role.PARTNER_STAFF, partner_b),
        "citizen": member(collab, Role.CITIZEN),
        "guardian": member(collab, Role.GUARDIAN),
        "observer": member(collab, Role.OBSERVER),
    }
    elsewhere = CollaborationFactory()
    people["outsider"] = member(elsewhere, Role.COORDINATOR)
    actors = {name: policy.actor_for(m.user) for name, m in people.items()}
    objects = {"collaboration": collab, "digest": _digest(collab),
               "digest_waiting": _digest(collab, DigestStatus.BUILT, days_ago=7),
               "digest_elsewhere": _digest(elsewhere)}
    collab.status = status
    db.session.commit()
    actors["anonymous"] = policy.Actor(user_id=None)
    return objects, actors


@pytest.mark.parametrize("status", ["active", "archived"])
def test_digest_policy_table(db, status):
    objects, actors = build_world(CollaborationStatus(status))
    table = ACTIVE if status == "active" else ARCHIVED
    failures = []
    for obj_name, actions in table.items():
        obj = objects[obj_name]
        model = type(obj)
        pk = model.__mapper__.primary_key[0]
        ident = getattr(obj, pk.key)
        for action, allowed_roles in actions.items():
            for role in ROLES:
                actor = actors[role]
                expected = role in allowed_roles
                got = policy.may(actor, action, obj)
                listed = ident in set(db.session.scalars(
                    select(pk).select_from(model).where(policy.where(actor, model, action))))
                if got != expected or listed != expected:
                    failures.append(f"{status} {role} {action} {obj_name}: expected "
                                    f"{expected}, may={got}, in list={listed}")
                    continue
                try:
                    policy.get_or_404(actor, model, ident, action)
                    outcome = "ok"
                except NotFound:
                    outcome = "404"
                except Forbidden:
                    outcome = "403"
                reads = role in table[obj_name]["read"]
                want = "ok" if expected else ("403" if reads else "404")
                if outcome != want:
                    failures.append(f"{status} {role} {action} {obj_name}: get_or_404 gave "
                                    f"{outcome}, expected {want}")
    assert not failures, "\n".join(failures)
