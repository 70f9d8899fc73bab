"""Fixtures shared by the reflection tests."""

from __future__ import annotations

import pytest

from coprod.accounts.models import Role
from tests.factories import CollaborationFactory, PartnerFactory, member


@pytest.fixture
def space(db):
    """A collaboration of two partners, one staff member each ("a" and "b")."""
    collab = CollaborationFactory()
    a, b = PartnerFactory(collaboration=collab), PartnerFactory(collaboration=collab)
    people = {"a": member(collab, Role.PARTNER_STAFF, a),
              "b": member(collab, Role.PARTNER_STAFF, b)}
    db.session.commit()
    return collab, people
