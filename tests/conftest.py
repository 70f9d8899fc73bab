"""Test fixtures: a real PostgreSQL database and Redis, each test isolated from the others.

Isolation is by rollback: a test runs inside one connection-level transaction that is rolled
back at its end, and the session joins it with SAVEPOINTs, so the code under test may commit
as it does in production. Tests whose rows another connection, thread or process must see (a
live server, a worker, `coprod run`, a second connection racing the first) commit for real:
they are marked `committed` (or `browser`/`worker`, or use such a fixture) and afterwards
only the tables they wrote are emptied.

Under pytest-xdist every worker has a PostgreSQL database and a Redis database of its own,
created here. COPROD_TEST_DATABASE_URL and COPROD_TEST_REDIS_URL override the local defaults
(each xdist worker adds its name to the database and counts down from the Redis db number).

Hypothesis profiles: `ci` (the full number of random worlds; `make test`, `.ci/run`) and
`dev` (few, for `make test-fast` and the inner loop; the default). Choose with
`--hypothesis-profile=ci` or COPROD_HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import contextvars
import email
import email.message
import email.policy
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import argon2.profiles
import psycopg
import pytest
from flask import g
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, seed, settings
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from coprod.accounts.models import use_password_hashing

# -- one database and one Redis database per xdist worker ------------------------------------

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... or "" alone


def _worker_number() -> int:
    return int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") else 0


def _database_of_this_worker(url: str) -> str:
    parsed = make_url(url)
    if XDIST_WORKER:
        parsed = parsed.set(database=f"{parsed.database}_{XDIST_WORKER}")
    return parsed.render_as_string(hide_password=False)


def _redis_of_this_worker(url: str) -> str:
    base, _, number = url.rpartition("/")
    return f"{base}/{max(int(number or 0) - _worker_number(), 0)}"


TEST_DATABASE_URL = _database_of_this_worker(os.environ.get(
    "COPROD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
TEST_REDIS_URL = _redis_of_this_worker(
    os.environ.get("COPROD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


def _create_database_if_missing(url: str) -> None:
    """xdist workers' databases (test_gw0...) are made on first use, on the same server."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


# Log-ins in tests verify argon2id hashes made with argon2's cheapest parameters (the same
# code path, a thousandth of the cost); production keeps argon2-cffi's defaults.
use_password_hashing(argon2.profiles.CHEAPEST)


# -- Hypothesis: how many random worlds -------------------------------------------------------

_HYPOTHESIS_COMMON = {"deadline": None, "print_blob": True,
                      "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=100, **_HYPOTHESIS_COMMON)
settings.register_profile("dev", max_examples=10, **_HYPOTHESIS_COMMON)
settings.load_profile(os.environ.get("COPROD_HYPOTHESIS_PROFILE", "dev"))


def worlds(ci: int) -> int:
    """How many examples a random-world test runs: `ci` in the ci profile (its full number,
    never fewer), and the same share of it as the profile's default in the others (dev: a
    tenth). Read when the test module is imported, after --hypothesis-profile is applied."""
    return max(1, round(ci * settings.default.max_examples / 100))


def in_ci_profile() -> bool:
    return settings.default.max_examples >= 100


def shards(ci: int) -> int:
    """How many shards a random-world test is split into: `ci` in the ci profile, a quarter
    of them otherwise (fewer worlds need fewer shards to spread over the cores)."""
    return ci if in_ci_profile() else max(1, ci // 4)


def run_worlds(strategy, check, *, examples: int, shard: int = 0, fixed_seed: bool | None = None,
               **overrides) -> None:
    """check(spec) over `examples` worlds drawn from `strategy`.

    A random-world test is split into shards (pytest parameters) so that xdist spreads its
    worlds over the cores; each shard draws worlds of its own. In the ci profile each shard
    has a fixed seed, so a fresh clone draws the worlds this machine drew (as Hypothesis's
    own CI profile does); elsewhere they are new on every run, to explore.
    """
    @settings(max_examples=examples, **overrides)
    @given(spec=strategy)
    def each_world(spec):
        check(spec)

    if in_ci_profile() if fixed_seed is None else fixed_seed:
        each_world = seed(20261203 + shard)(each_world)
    each_world()


# -- the app and its isolation ----------------------------------------------------------------

# While a rolled-back test runs: the connection its transaction lives on. Apps made during
# the test on the same database (make_app) use it too, so that they see the test's rows.
_test_connection = None


def make_app(instance: Path, database_url: str = TEST_DATABASE_URL, **overrides):
    os.environ["COPROD_INSTANCE_PATH"] = str(instance)
    from coprod import create_app

    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "RATELIMIT_STORAGE_URI": TEST_REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"coprod-test-{os.getpid()}",
        "WTF_CSRF_ENABLED": False,
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
        "MAIL_FILE_DIR": str(instance / "mail"),
        "SMTP_HOST": None,
        # Tests send outbox rows themselves (outbox fixture) or start a real worker.
        "CELERY": {"broker_url": "memory://", "task_always_eager": False},
        # Coordinators log in with a password alone, except in the tests of two-factor
        # authentication (tests/accounts/test_two_factor.py), which turn this on.
        "COPROD_REQUIRE_2FA_FOR_COORDINATORS": False,
    }
    config.update(overrides)
    app = create_app(config)
    if _test_connection is not None and config["SQLALCHEMY_DATABASE_URI"] == TEST_DATABASE_URL:
        app.extensions["coprod_test_engine"] = _bind_to(app, _test_connection)
    return app


@contextmanager
def embedded_app(app, tmp_path: Path):
    """with embedded_app(app, tmp_path) as sqlite: ...  an app on a fresh SQLite file (the
    embedded default of `make run`), migrated, inside its app context; afterwards its
    connections are closed and the test app's Celery is the current one again."""
    from flask_migrate import upgrade

    from coprod.extensions import db

    sqlite = make_app(tmp_path / "instance", database_url=f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with sqlite.app_context():
            upgrade()
            yield sqlite
            db.session.remove()
            db.engine.dispose()
    finally:
        celery_back_to(app)


def celery_back_to(app) -> None:
    """Make `app`'s Celery the one tasks run in again, after another app was created.

    Creating an app makes its Celery both the default and the thread's current one, and
    @shared_task functions run in the current one's Flask app: setting the default back alone
    left a task called afterwards working in the other app's (dropped) database."""
    celery = app.extensions["celery"]
    celery.set_default()
    celery.set_current()


def imports_fail(monkeypatch, *names: str) -> None:
    """Importing any of these modules raises ImportError meanwhile, as on a machine without
    the package (an optional extra, a runtime that does not install)."""
    import builtins

    real_import = builtins.__import__

    def missing(name, *args, **kwargs):
        if name in names:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)


def published_tasks(app, task: str | None) -> list[tuple[list, dict]]:
    """Take every message off the in-memory broker's default queue (the memory transport is
    shared by the whole process); return (positional arguments, headers) of those of `task`
    (of every task for None)."""
    found = []
    with app.extensions["celery"].connection_for_read() as conn:
        queue = conn.SimpleQueue("celery", no_ack=True)
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    break
                if task is None or message.headers.get("task") == task:
                    found.append((message.payload[0], message.headers))
        finally:
            queue.close()
    return found


def dispose(app) -> None:
    """Close an app's pooled connections (of its own engine, if it shares the test's)."""
    from coprod.extensions import db

    with app.app_context():
        app.extensions.get("coprod_test_engine", db.engine).dispose()


def _bind_to(app, bind):
    """Point the app's default bind at `bind` (an Engine, or the test's Connection); returns
    what it was. Flask-SQLAlchemy keeps one engine dict per app."""
    from coprod.extensions import db

    engines = db._app_engines[app]
    before, engines[None] = engines[None], bind
    return before


def reset_database(db, tables=None) -> None:
    """Empty the given tables (all by default), across processes: for committed tests."""
    names = [t.name for t in db.metadata.sorted_tables] if tables is None else tables
    if not names:
        return
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                conn.execute(text(f"DELETE FROM {name}"))


def written_tables(db) -> list[str]:
    """The tables that hold a row now, found with one query (TRUNCATE costs per table)."""
    tables = [t.name for t in db.metadata.sorted_tables]
    probe = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables)
    with db.engine.connect() as conn:
        return list(conn.execute(text(probe)).scalars())


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    _create_database_if_missing(TEST_DATABASE_URL)
    app = make_app(tmp_path_factory.mktemp("instance"))
    from coprod.extensions import db

    with app.app_context():
        # The session joins a test's transaction with a SAVEPOINT; with a plain engine
        # (committed tests, production) this changes nothing.
        db.session.configure(join_transaction_mode="create_savepoint")
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return app


# Fixtures whose rows other connections, threads or processes read: their tests commit.
COMMITTED_FIXTURES = {"live_app", "live_server", "broker_app", "start_worker"}
COMMITTED_MARKERS = ("committed", "browser", "worker")


def _commits_for_real(request) -> bool:
    return bool(COMMITTED_FIXTURES & set(request.fixturenames)) or any(
        request.node.get_closest_marker(name) for name in COMMITTED_MARKERS)


@pytest.fixture(autouse=True)
def _isolate(request):
    """Give each test an empty database, an empty mail folder and fresh rate limits."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from coprod.extensions import db, limiter

    ctx = app.app_context()
    ctx.push()
    # A test that created another app (make_app) left its Celery current: a task called
    # directly in a later test ran in that app's database. Every test starts with this one's.
    celery_back_to(app)
    try:
        if _commits_for_real(request):
            yield from _committed(db)
        else:
            yield from _rolled_back(app, db)
    finally:
        limiter.reset()
        mail_dir = Path(app.config["MAIL_FILE_DIR"])
        if mail_dir.exists():
            for f in mail_dir.iterdir():
                f.unlink()
        ctx.pop()


def _rolled_back(app, db):
    """The test inside one transaction on one connection, rolled back at the end."""
    global _test_connection
    connection = db.engine.connect()
    transaction = connection.begin()
    engine = _bind_to(app, connection)
    _test_connection = connection
    try:
        yield
    finally:
        _test_connection = None
        db.session.remove()
        _bind_to(app, engine)
        if transaction.is_active:
            transaction.rollback()
        connection.close()


def _committed(db):
    """The test commits for real; afterwards the tables it wrote are emptied."""
    try:
        yield
    finally:
        db.session.remove()
        reset_database(db, written_tables(db))


@contextmanager
def fresh_world(db):
    """One Hypothesis example's world: what is written inside is rolled back afterwards
    (a SAVEPOINT inside the test's transaction), so each example starts from an empty
    database without emptying it."""
    db.session.remove()
    savepoint = db.engine.begin_nested()
    try:
        yield
    finally:
        db.session.remove()
        if savepoint.is_active:
            savepoint.rollback()


@pytest.fixture
def db(app):
    from coprod.extensions import db

    return db


# SAVEPOINTs are the tests' isolation (and the session joining it), not the code's work.
_ISOLATION_STATEMENT = re.compile(r"\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b",
                                  re.IGNORECASE)


@contextmanager
def statements_run(db) -> Iterator[list[str]]:
    """with statements_run(db) as run: ...  then `run` lists the SQL statements executed
    inside, without the SAVEPOINTs that rollback isolation adds: what a query count means."""
    run: list[str] = []

    def seen(conn, cursor, statement, *args):
        if not _ISOLATION_STATEMENT.match(statement):
            run.append(statement)

    bind = db.engine
    event.listen(bind, "before_cursor_execute", seen)
    try:
        yield run
    finally:
        event.remove(bind, "before_cursor_execute", seen)


@contextmanager
def orm_loads(*models):
    """with orm_loads(User, ...) as loaded: ...  then `loaded` holds (model name, id) of each
    object of those models the ORM made from rows inside (what a plain-row path must not
    make)."""
    loaded: list[tuple[str, int]] = []

    def seen(target, context) -> None:
        loaded.append((type(target).__name__, target.id))

    for model in models:
        event.listen(model, "load", seen)
    try:
        yield loaded
    finally:
        for model in models:
            event.remove(model, "load", seen)


def count_statements(db, fn, *args) -> int:
    """How many SQL statements fn(*args) runs (see statements_run)."""
    with statements_run(db) as run:
        fn(*args)
    return len(run)


class FreshRequestClient(FlaskClient):
    """A test browser whose every request starts with an empty `g`, as in production.

    `_isolate` keeps one app context pushed for the whole test and Flask reuses it for each
    test-client request, so `g` (Flask-Login's user, the policy's cached actor, the locale)
    would otherwise carry over between requests and between clients.
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


class OwnContextClient(FlaskClient):
    """A test browser whose every request runs as a production worker runs it: in an
    application context (and so a database session) of its own, removed once the view has
    answered and before a streamed body is read, which is then read to its end.

    The other clients share the test's app context, so the session outlives each request and
    hides what a streamed body does with objects its request loaded (detached, and expired if
    the request committed). The test's session is committed first: the request's session
    works on the same connection, and must not be rolled back under it.
    """

    def open(self, *args, **kwargs):
        from coprod.extensions import db

        db.session.commit()
        own = contextvars.Context()  # no app context in it: the request makes its own
        response = own.run(super().open, *args, **kwargs)
        own.run(response.get_data)  # the stream runs in the request's (popped) context
        return response


@pytest.fixture
def own_context_client(app):
    """A client whose requests have app contexts and sessions of their own (see above)."""
    return OwnContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def new_client(app):
    """Another browser: new_client() -> a client with its own cookies."""
    return lambda: FreshRequestClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def client(new_client):
    return new_client()


class Outbox:
    """Sends pending outbox rows the way the worker does and reads what arrived."""

    def __init__(self, app):
        self.app = app

    def deliver(self) -> int:
        from coprod.extensions import db
        from coprod.mail.models import OutboxEmail, OutboxStatus
        from coprod.mail.tasks import send_outbox_email

        db.session.commit()
        ids = db.session.scalars(select(OutboxEmail.id).where(
            OutboxEmail.status == OutboxStatus.PENDING)).all()
        for outbox_id in ids:
            send_outbox_email.run(outbox_id)
        return len(ids)

    def messages(self) -> list[email.message.EmailMessage]:
        self.deliver()
        folder = Path(self.app.config["MAIL_FILE_DIR"])
        if not folder.exists():
            return []
        return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                for p in sorted(folder.glob("*.eml"))]

    def last_to(self, address: str) -> email.message.EmailMessage:
        found = [m for m in self.messages() if m["To"] == address]
        assert found, f"no email to {address}"
        return found[-1]


@pytest.fixture
def outbox(app):
    return Outbox(app)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


@pytest.fixture
def login(client):
    """Log a user in through the real form: login(user) -> the response."""
    from tests.factories import PASSWORD

    def _login(user, password=PASSWORD, follow_redirects=False):
        return client.post("/login", data={"email": user.email, "password": password},
                           follow_redirects=follow_redirects)

    return _login


@pytest.fixture
def sign_in(login):
    """Log a user (or a membership's user) in through the real form and check that it
    worked: sign_in(user_or_seat) -> the response, a 302."""

    def _sign_in(user_or_seat):
        user = getattr(user_or_seat, "user", user_or_seat)
        response = login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    return _sign_in
