"""The outbox end to end: a web-side commit, a real Celery worker process, real mail.

Redis + PostgreSQL + aiosmtpd as in production, and the embedded default (SQLite database,
SQLite broker, .eml files) with nothing else running.
"""

from __future__ import annotations

import email
import email.policy
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import invite
from coprod.extensions import db
from coprod.mail.models import OutboxEmail, OutboxStatus
from tests.conftest import TEST_REDIS_URL
from tests.factories import CollaborationFactory, member
from tests.mail.conftest import close_app, other_app, plain_postgres_url

pytestmark = pytest.mark.worker

DELIVERY_TIMEOUT = 20


def invite_and_commit(web_app, email_address="new.member@example.org") -> OutboxEmail:
    """In `web_app`: a coordinator invites someone, and the request commits."""
    with web_app.test_request_context():
        collab = CollaborationFactory(title="Meaningful work")
        coordinator = member(collab, Role.COORDINATOR)
        invitation = invite(policy.actor_for(coordinator.user), collab, email_address,
                            Role.OBSERVER)
        db.session.commit()
        row = db.session.scalar(select(OutboxEmail).where(
            OutboxEmail.key == f"invitation:{invitation.id}"))
        db.session.expunge(row)
        return row


def row_status(web_app, outbox_id: int) -> OutboxEmail:
    with web_app.app_context():
        row = db.session.get(OutboxEmail, outbox_id)
        db.session.expunge(row)
        return row


def wait_for_status(web_app, outbox_id: int, status: OutboxStatus,
                    timeout: float = DELIVERY_TIMEOUT) -> OutboxEmail:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = row_status(web_app, outbox_id)
        if row.status == status:
            return row
        time.sleep(0.1)
    raise AssertionError(f"outbox row {outbox_id} is {row.status}, not {status}")


def redis_worker_settings(smtp_server) -> dict[str, str]:
    return {"DATABASE_URL": plain_postgres_url(), "REDIS_URL": TEST_REDIS_URL,
            **smtp_server.env()}


def test_invitation_email_goes_out_once_through_redis_and_a_worker(
        broker_app, smtp_server, start_worker):
    worker = start_worker(**redis_worker_settings(smtp_server))
    row = invite_and_commit(broker_app)

    (message,) = smtp_server.wait_for(1, timeout=DELIVERY_TIMEOUT)
    assert message["Message-ID"] == row.message_id
    assert message["To"] == "new.member@example.org"
    assert "Meaningful work" in message["Subject"]
    assert "http://localhost/invitations/" in message.get_body(("plain",)).get_content()
    sent = wait_for_status(broker_app, row.id, OutboxStatus.SENT)
    assert sent.attempts == 1 and sent.sent_at is not None

    # The same task again (a redelivery, or the relay racing the commit hook) sends nothing.
    broker_app.extensions["celery"].send_task("coprod.mail.tasks.send_outbox_email",
                                              args=(row.id,))
    worker.wait_for_log(r"send_outbox_email\[[^\]]+\] succeeded in [^:]+: 'nothing to do'")
    assert len(smtp_server.messages) == 1


def test_a_worker_killed_while_the_server_holds_its_reply_leaves_the_email_to_send_again(
        broker_app, smtp_server, start_worker):
    """The server has the whole message and the final dot but has not said 250 yet when the
    worker dies: such a server drops the message, so the row must not say sent; the next
    attempt delivers it, with the same Message-ID."""
    smtp_server.hold_reply(30)
    worker = start_worker(**redis_worker_settings(smtp_server))
    row = invite_and_commit(broker_app)
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while smtp_server.held < 1:
        assert time.monotonic() < deadline, "the worker never reached the final dot"
        time.sleep(0.02)
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=10)
    time.sleep(0.5)  # the server notices the disconnection and drops the message
    assert smtp_server.messages == []
    assert row_status(broker_app, row.id).status == OutboxStatus.PENDING, \
        "a row marked sent before the server's 250 is an email that may never arrive"

    smtp_server.hold_reply(0)
    start_worker(**redis_worker_settings(smtp_server))
    # The killed worker's task is unacknowledged until Redis's visibility timeout (hours);
    # beat's relay hands the row to the new worker.
    broker_app.extensions["celery"].send_task("coprod.mail.tasks.relay_outbox",
                                              kwargs={"older_than_seconds": 0})
    (message,) = smtp_server.wait_for(1, timeout=DELIVERY_TIMEOUT)
    assert message["Message-ID"] == row.message_id
    sent = wait_for_status(broker_app, row.id, OutboxStatus.SENT)
    assert sent.attempts == 2


def test_broker_down_at_commit_then_the_relay_sends_once(
        app, broker_app, smtp_server, start_worker, tmp_path):
    broker_down = other_app(tmp_path / "down", CELERY={"broker_url": "redis://127.0.0.1:1/0"})
    try:
        started = time.monotonic()
        row = invite_and_commit(broker_down)  # the commit itself must succeed
        assert time.monotonic() - started < 5, "a dead broker must not hold up the request"
    finally:
        close_app(broker_down, default_celery_of=app)
    assert row_status(broker_app, row.id).status == OutboxStatus.PENDING

    worker = start_worker(**redis_worker_settings(smtp_server))
    time.sleep(1)
    assert smtp_server.messages == [], "nothing was enqueued, so nothing may be sent yet"
    # What beat does every minute; the grace period is waived so the test need not wait.
    broker_app.extensions["celery"].send_task("coprod.mail.tasks.relay_outbox",
                                              kwargs={"older_than_seconds": 0})
    (message,) = smtp_server.wait_for(1, timeout=DELIVERY_TIMEOUT)
    assert message["Message-ID"] == row.message_id
    assert wait_for_status(broker_app, row.id, OutboxStatus.SENT).attempts == 1
    # A second relay run finds nothing pending.
    broker_app.extensions["celery"].send_task("coprod.mail.tasks.relay_outbox",
                                              kwargs={"older_than_seconds": 0})
    worker.wait_for_log(r"relay_outbox\[[^\]]+\] succeeded in [^:]+: 0")
    assert len(smtp_server.messages) == 1


def test_embedded_default_writes_the_email_as_an_eml_file(app, tmp_path, start_worker):
    """No server at all: SQLite database and broker files shared by web and worker."""
    from flask_migrate import upgrade

    instance = tmp_path / "instance"
    web = other_app(
        instance, database_url=f"sqlite:///{instance / 'coprod.db'}", REDIS_URL=None,
        RATELIMIT_STORAGE_URI="memory://",
        CELERY={"broker_url": f"sqla+sqlite:///{instance / 'celery-broker.db'}"},
        MAIL_FILE_DIR=str(instance / "mail"),
    )
    try:
        with web.app_context():
            upgrade()
        row = invite_and_commit(web)
        # The worker gets the same instance folder and no other setting: the embedded default.
        start_worker(COPROD_INSTANCE_PATH=str(instance))
        sent = wait_for_status(web, row.id, OutboxStatus.SENT)
    finally:
        close_app(web, default_celery_of=app)
    (eml,) = Path(instance / "mail").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == row.message_id == sent.message_id
    assert message["To"] == "new.member@example.org"
    assert "/invitations/" in message.get_body(("plain",)).get_content()
