"""API test helpers: bearer tokens for factory users, a JSON client, a query counter."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from coprod.common import utcnow
from tests.conftest import statements_run
from tests.factories import CollaborationFactory, PartnerFactory, member


@pytest.fixture
def bearer(db):
    """bearer(user) -> request headers carrying a new personal access token of `user`."""

    def _bearer(user) -> dict[str, str]:
        token, secret = create_token(user, "tests")
        # As a script's token that is already in use: a token's first call records its use
        # (tests/api/test_auth.py), which the query counts of the tests here should not see.
        token.last_used_at = utcnow()
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return _bearer


@pytest.fixture
def space(db, bearer):
    """One collaboration with a partner, a coordinator, an observer and a staff member."""

    collab = CollaborationFactory(title="Meaningful work")
    partner = PartnerFactory(collaboration=collab)
    s = SimpleNamespace(
        collab=collab, partner=partner,
        coordinator=member(collab, Role.COORDINATOR),
        observer=member(collab, Role.OBSERVER),
        staff=member(collab, Role.PARTNER_STAFF, partner=partner),
    )
    db.session.commit()
    s.as_coordinator = bearer(s.coordinator.user)
    s.as_observer = bearer(s.observer.user)
    s.as_staff = bearer(s.staff.user)
    return s


@pytest.fixture
def count_queries(db):
    """with count_queries() as n: ...  then n.count is the number of SQL statements run."""

    class Counter:
        count = 0

        def __enter__(self):
            # Start from an empty identity map, as a production request does; otherwise what
            # the garbage collector happened to keep decides whether a row is loaded again.
            db.session.expunge_all()
            self._counting = statements_run(db)
            self._run = self._counting.__enter__()
            return self

        def __exit__(self, *exc):
            self._counting.__exit__(*exc)
            self.count = len(self._run)

    return Counter
