"""API test helpers: bearer tokens for factory users, a JSON client, a query counter.

Each request starts with an empty `g`, as in production (the shared `_isolate` fixture keeps
one app context for the whole test, which Flask would reuse for every request and so carry
the caller, the policy's actor and the locale from one request to the next).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import event

from coprod.accounts.models import Role
from coprod.accounts.operations import create_token
from tests.factories import CollaborationFactory, PartnerFactory, member


class FreshRequestClient(FlaskClient):
    def open(self, *args, **kwargs):
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


@pytest.fixture
def client(app):
    return FreshRequestClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def bearer(db):
    """bearer(user) -> request headers carrying a new personal access token of `user`."""

    def _bearer(user) -> dict[str, str]:
        _token, secret = create_token(user, "tests")
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
            event.listen(db.engine, "before_cursor_execute", self._seen)
            return self

        def __exit__(self, *exc):
            event.remove(db.engine, "before_cursor_execute", self._seen)

        def _seen(self, *args, **kwargs):
            self.count += 1

    return Counter
