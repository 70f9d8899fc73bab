"""The texts a digest groups into themes come in one order, so a rebuilt digest shows the same
themes (grouping depends on the order of its input)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from coprod.accounts.models import Role
from coprod.common import utcnow
from coprod.digests import build, periods
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Reflection
from tests.factories import CollaborationFactory, PartnerFactory, member

REFLECTION = {"kind": "improve", "perspective": "citizens", "component": "routines",
              "learning_level": "inter", "mode": "exploitation"}


def test_reflections_of_the_same_moment_are_grouped_in_the_order_they_were_written(db):
    """Ties on created_at (an import, a backfill, rows of one transaction) are broken by id,
    whatever order PostgreSQL keeps the rows in: an update moves a row to the end of its page."""
    collab = CollaborationFactory()
    staff = actor_for(member(collab, Role.PARTNER_STAFF, PartnerFactory(collaboration=collab)).user)
    written = [reflections.post_reflection(staff, collab, body=f"Text {n}", **REFLECTION).id
               for n in range(5)]
    moment = utcnow() - timedelta(minutes=1)
    db.session.execute(update(Reflection).where(Reflection.id.in_(written))
                       .values(created_at=moment))
    for rid in (written[3], written[0]):  # new row versions, stored after the others
        db.session.execute(update(Reflection).where(Reflection.id == rid)
                           .values(body=Reflection.body + "."))
    db.session.commit()

    window = [periods.period_at(collab, moment)]
    assert [r["id"] for r in build.theme_sources(collab.id, window)] == written
