"""Test fixtures: a real PostgreSQL database and Redis, emptied after every test.

COPROD_TEST_DATABASE_URL and COPROD_TEST_REDIS_URL override the local defaults.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select, text

TEST_DATABASE_URL = os.environ.get(
    "COPROD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("COPROD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
    }
    config.update(overrides)
    return create_app(config)


def reset_database(db) -> None:
    """Empty every table (fast, and works across processes such as a live server or worker)."""
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("instance"))
    from coprod.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return app


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
    try:
        yield
    finally:
        db.session.remove()
        reset_database(db)
        limiter.reset()
        mail_dir = Path(app.config["MAIL_FILE_DIR"])
        if mail_dir.exists():
            for f in mail_dir.iterdir():
                f.unlink()
        ctx.pop()


@pytest.fixture
def db(app):
    from coprod.extensions import db

    return db


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
