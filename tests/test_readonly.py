"""Reads run outside a transaction and the first write begins one (coprod/readonly.py): a
request that only read sends its statements and nothing else, so psycopg keeps its prepared
statements and PostgreSQL stops planning the policy's queries on every page; a request that
wrote and did not commit still leaves nothing behind; a pooled connection the server ended is
replaced before a request gets it."""

from __future__ import annotations

import time

import pytest
from flask import request
from sqlalchemy import exc, func, insert, select, text

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

    def reads_with_a_cte():
        named = select(Organization.id).cte("named")
        return str(coprod_db.session.scalar(select(func.count()).select_from(named)))

    def reads_planned_each_time():
        from coprod.readonly import PLAN_EACH_TIME

        marked = select(func.count()).select_from(Organization).where(
            Organization.name == "planned each time")
        return str(coprod_db.session.scalar(marked.execution_options(**PLAN_EACH_TIME)))

    def transaction_status():
        """What the driver's connection is in after the route's statements."""
        return coprod_db.session.connection().connection.driver_connection.info \
            .transaction_status.name

    def reads_then_tells():
        coprod_db.session.scalar(select(func.count()).select_from(Organization))
        return transaction_status()

    def locks_then_tells():
        coprod_db.session.scalars(select(Organization).with_for_update()).all()
        return transaction_status()

    def writes_twice_second_fails():
        coprod_db.session.scalar(select(func.count()).select_from(Organization))
        coprod_db.session.add(Organization(name="First of two", sector="public"))
        coprod_db.session.flush()
        status = transaction_status()
        if request.args.get("fail"):
            coprod_db.session.execute(text(  # no name: the database refuses the row
                "INSERT INTO organizations (sector, created_at) VALUES ('public', now())"))
        coprod_db.session.commit()
        return status

    def writes_alone():
        """One statement that asks to run alone (WHOLE_ALONE), after a write with ?after=1;
        no commit."""
        from coprod.readonly import WHOLE_ALONE

        if request.args.get("after"):
            coprod_db.session.add(Organization(name="Written before", sector="public"))
            coprod_db.session.flush()
        coprod_db.session.execute(insert(Organization.__table__).values(
            name="Written alone", sector="public", created_at=func.now()
        ).execution_options(**WHOLE_ALONE))
        return transaction_status()

    def backend():
        return str(coprod_db.session.scalar(text("SELECT pg_backend_pid()")))

    other.add_url_rule("/test-reads/status", view_func=reads_then_tells)
    other.add_url_rule("/test-reads/lock", view_func=locks_then_tells)
    other.add_url_rule("/test-writes-twice", view_func=writes_twice_second_fails)
    other.add_url_rule("/test-reads/backend", view_func=backend)
    other.add_url_rule("/test-writes-alone", view_func=writes_alone)
    other.add_url_rule("/test-reads/planned-each-time", view_func=reads_planned_each_time)
    other.add_url_rule("/test-writes/<how>", view_func=writes_without_commit)
    other.add_url_rule("/test-reads/cte", view_func=reads_with_a_cte)
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


def test_a_statement_beginning_with_with_is_a_read(own_app, db):
    """SELECTs with common table expressions (the search's) begin WITH: they keep the
    request read-only, so their plans are prepared too."""
    client = own_app.test_client()
    for _ in range(8):
        assert client.get("/test-reads/cte").status_code == 200
    with own_app.app_context():
        with coprod_db.engine.connect() as conn:
            prepared = conn.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any(s.lstrip().upper().startswith("WITH") for s in prepared), prepared


def test_a_statement_may_ask_to_be_planned_each_time(own_app, db):
    """PLAN_EACH_TIME: never prepared, so PostgreSQL plans it for its values every time."""
    client = own_app.test_client()
    for _ in range(8):
        assert client.get("/test-reads/planned-each-time").status_code == 200
        assert client.get("/test-reads/cte").status_code == 200
    with own_app.app_context():
        with coprod_db.engine.connect() as conn:
            prepared = conn.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any(s.lstrip().upper().startswith("WITH") for s in prepared), prepared
    assert not any("planned each time" in s or "organizations.name =" in s
                   for s in prepared), prepared


@pytest.mark.parametrize("statement, reads", [
    ("SELECT 1", True), ("  select id FROM t", True),
    ("(SELECT a FROM t LIMIT 2) UNION ALL (SELECT a FROM u LIMIT 2)", True),
    ("WITH x AS MATERIALIZED (SELECT id FROM t) SELECT count(*) FROM x", True),
    ("WITH x AS (SELECT updated_at, last_update FROM t) SELECT * FROM x", True),
    ("WITH gone AS (DELETE FROM t RETURNING id) SELECT count(*) FROM gone", False),
    ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", False),
    ("with x as (select 1) update t set a = 1", False),
    ("INSERT INTO t VALUES (1)", False), ("UPDATE t SET a = 1", False),
    ("DELETE FROM t", False), ("SAVEPOINT sa_1", False), ("TRUNCATE t", False),
])
def test_which_statements_only_read(statement, reads):
    from coprod.readonly import only_reads

    assert only_reads(statement) is reads


@pytest.mark.parametrize("how", ["flushed", "statement", "pending"])
def test_a_request_that_wrote_without_committing_leaves_nothing(own_app, db, how):
    client = own_app.test_client()
    assert client.get(f"/test-writes/{how}").status_code == 200
    with own_app.app_context():
        assert coprod_db.session.scalar(select(func.count()).select_from(Organization).where(
            Organization.name == "Never committed")) == 0


def test_a_request_that_only_reads_opens_no_transaction(own_app, db):
    """No BEGIN before its statements, no COMMIT or ROLLBACK after them."""
    client = own_app.test_client()
    assert client.get("/test-reads/status").get_data(as_text=True) == "IDLE"


def test_a_locking_read_runs_inside_the_transaction(own_app, db):
    """SELECT ... FOR UPDATE keeps its lock until the transaction ends, not the statement."""
    client = own_app.test_client()
    assert client.get("/test-reads/lock").get_data(as_text=True) == "INTRANS"


def test_the_first_write_begins_one_transaction_for_the_rest(own_app, db):
    client = own_app.test_client()
    assert client.get("/test-writes-twice").get_data(as_text=True) == "INTRANS"
    response = client.get("/test-writes-twice?fail=1")
    assert response.status_code == 500
    with own_app.app_context():
        names = coprod_db.session.scalars(select(Organization.name).where(
            Organization.name == "First of two")).all()
    assert names == ["First of two"], "the failed request's first write was kept"


def _organizations(app) -> list[str]:
    with app.app_context():
        return sorted(coprod_db.session.scalars(select(Organization.name)))


def test_a_whole_write_alone_runs_outside_a_transaction(own_app, db):
    """No BEGIN before it and no COMMIT after it: PostgreSQL's own one-statement transaction
    stores it, with no commit asked for."""
    client = own_app.test_client()
    assert client.get("/test-writes-alone").get_data(as_text=True) == "IDLE"
    assert _organizations(own_app) == ["Written alone"]


def test_a_whole_write_after_another_write_joins_its_transaction(own_app, db):
    """After an earlier write it is part of the request's one transaction: not committed,
    neither is kept."""
    client = own_app.test_client()
    assert client.get("/test-writes-alone?after=1").get_data(as_text=True) == "INTRANS"
    assert _organizations(own_app) == []


def _terminate(app, pid: int) -> None:
    """End a backend from a connection of the test's own (not the app's pool)."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(100):  # gone once the server has noted its end
            if not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                (pid,)).fetchone()[0]:
                return
            time.sleep(0.02)


def test_a_pooled_connection_the_server_ended_is_replaced(own_app, db, monkeypatch):

    client = own_app.test_client()
    first = int(client.get("/test-reads/backend").get_data(as_text=True))
    _terminate(own_app, first)
    response = client.get("/test-reads/backend")
    assert response.status_code == 200
    assert int(response.get_data(as_text=True)) != first


def test_a_connection_back_from_a_request_just_now_is_not_pinged(own_app, db, monkeypatch):
    from coprod import readonly

    pings = []
    real_ping = readonly._ping
    monkeypatch.setattr(readonly, "_ping", lambda conn: pings.append(1) or real_ping(conn))
    client = own_app.test_client()
    for _ in range(5):
        assert client.get("/test-reads/status").status_code == 200
    assert pings == []
    monkeypatch.setattr(readonly, "REST_BEFORE_PING", 0.0)
    assert client.get("/test-reads/status").status_code == 200
    assert pings == [1]


def test_a_session_rolls_back_after_the_server_ended_its_connection(own_app, db):
    """The lost connection is given up: rolling back starts over on a new one (the page
    cache's rollback listener asked the invalidated connection for its info, and the rollback
    failed with "Can't reconnect until invalid transaction is rolled back")."""
    with own_app.app_context():
        connection = coprod_db.session.connection()
        backend = connection.scalar(text("SELECT pg_backend_pid()"))
        _terminate(own_app, backend)
        with pytest.raises(exc.DBAPIError) as raised:
            connection.execute(text("SELECT 1"))
        assert raised.value.connection_invalidated
        coprod_db.session.rollback()
        assert coprod_db.session.scalar(text("SELECT pg_backend_pid()")) != backend
