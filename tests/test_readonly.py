"""A request that only read commits (so psycopg keeps its prepared statements and PostgreSQL
stops planning the policy's queries on every page); a request that wrote and did not commit
still leaves nothing behind (coprod/readonly.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from coprod.extensions import db as coprod_db
from coprod.spaces.models import Organization
from tests.conftest import celery_back_to, dispose, make_app
from tests.factories import UserFactory

pytestmark = pytest.mark.committed  # one connection across requests, commits for real


@pytest.fixture
def own_app(app, tmp_path):
    """An app with routes of the test's own (the session's app has served requests already)."""
    other = make_app(tmp_path / "readonly")

    def writes_without_commit(how: str):
        if how == "flushed":
            coprod_db.session.add(Organization(name="Never committed", sector="public"))
            coprod_db.session.flush()
        elif how == "statement":
            coprod_db.session.execute(text(
                "INSERT INTO organizations (name, sector, created_at) "
                "VALUES ('Never committed', 'public', now())"))
        else:
            coprod_db.session.add(Organization(name="Never committed", sector="public"))
        return "answered without committing"

    other.add_url_rule("/test-writes/<how>", view_func=writes_without_commit)
    yield other
    dispose(other)
    celery_back_to(app)


def _prepared_statements(app) -> int:
    with app.app_context():
        with coprod_db.engine.connect() as conn:  # the pool's one connection, as requests had it
            return conn.scalar(text("SELECT count(*) FROM pg_prepared_statements"))


def test_read_only_requests_keep_their_prepared_statements(own_app, db):
    from coprod.accounts.operations import create_token

    with own_app.app_context():
        user = UserFactory()
        _token, secret = create_token(user, "poller")
        coprod_db.session.commit()
        coprod_db.session.remove()
    client = own_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    for _ in range(8):  # psycopg prepares a statement on its fifth run on a connection
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert _prepared_statements(own_app) > 0


@pytest.mark.parametrize("how", ["flushed", "statement", "pending"])
def test_a_request_that_wrote_without_committing_leaves_nothing(own_app, db, how):
    client = own_app.test_client()
    assert client.get(f"/test-writes/{how}").status_code == 200
    with own_app.app_context():
        assert coprod_db.session.scalar(select(func.count()).select_from(Organization).where(
            Organization.name == "Never committed")) == 0
