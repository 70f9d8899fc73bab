"""Role x action for learning digests, written out.

Every member reads the digests of their collaboration (what each sees in one is filtered per
permission class by coprod/digests/readers.py, tested in tests/digests); coordinators change
the digest settings and review, note and send a digest while the space is active. Every cell
is checked three ways by tests/policy/tables.check_table: policy.may, the SQL filter, and
get_or_404's 404 (unreadable) or 403 (readable but not allowed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from coprod.common import utcnow
from coprod.digests.models import Digest, DigestStatus
from coprod.extensions import db
from coprod.spaces.models import Collaboration, CollaborationStatus
from tests.policy.tables import COORD, MEMBERS, NOBODY, ROLES, World, base_world, check_table

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


def digest_objects(world: World) -> dict:
    """A sent digest, one waiting for review, and a digest of the space elsewhere."""
    return {"collaboration": world.collab, "digest": _digest(world.collab),
            "digest_waiting": _digest(world.collab, DigestStatus.BUILT, days_ago=7),
            "digest_elsewhere": _digest(world.elsewhere)}


@pytest.mark.parametrize("status", ["active", "archived"])
def test_digest_policy_table(db, status):
    world = base_world(CollaborationStatus(status), digest_objects)
    table = ACTIVE if status == "active" else ARCHIVED
    failures = check_table(table, world.objects, world.actors, ROLES, label=status)
    assert not failures, "\n".join(failures)
