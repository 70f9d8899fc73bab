"""The outbox in one process: rows and commits, idempotent sending, SMTP refusals, the relay."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry
from sqlalchemy import func, select, text

from coprod import policy
from coprod.accounts.models import Role
from coprod.accounts.operations import invite
from coprod.common import utcnow
from coprod.mail import tasks
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.mail.outbox import SEND_TASK, message_id_for, queue_email
from coprod.mail.sending import is_transient
from coprod.mail.tasks import relay_outbox, send_outbox_email
from tests.factories import CollaborationFactory, member
from tests.rawmail import assert_one_click_unsubscribe


def invite_someone(app, db, email="new.member@example.org") -> OutboxEmail:
    """A coordinator invites `email`; returns the outbox row (not committed)."""
    with app.test_request_context():
        collab = CollaborationFactory(title="Meaningful work")
        coordinator = member(collab, Role.COORDINATOR)
        invitation = invite(policy.actor_for(coordinator.user), collab, email, Role.OBSERVER)
        return db.session.scalar(select(OutboxEmail).where(
            OutboxEmail.key == f"invitation:{invitation.id}"))


def outbox_rows(db) -> list[OutboxEmail]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()


@pytest.fixture
def smtp_app(app, smtp_server, monkeypatch):
    """The session app sending through the test's aiosmtpd server."""
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    return app


def test_rolled_back_invitation_leaves_no_row_and_enqueues_nothing(app, db, published):
    invite_someone(app, db)
    db.session.rollback()
    assert outbox_rows(db) == []
    db.session.commit()  # a later, unrelated commit must not send the forgotten row
    assert published() == []


def test_committed_invitation_enqueues_its_row_once_after_commit(app, db, published):
    row = invite_someone(app, db)
    assert published() == [], "nothing may be enqueued before the commit"
    db.session.commit()
    assert [outbox_id for outbox_id, _ in published()] == [row.id]
    db.session.commit()
    assert published() == []


def test_savepoint_release_is_not_a_commit(app, db, published):
    with db.session.begin_nested():
        invite_someone(app, db)
    assert published() == []
    db.session.rollback()
    assert outbox_rows(db) == []
    assert published() == []


def test_row_is_written_in_the_same_transaction_as_the_invitation(app, db):
    row = invite_someone(app, db)
    db.session.commit()
    (stored,) = outbox_rows(db)
    assert stored.id == row.id
    assert stored.status == OutboxStatus.PENDING
    assert stored.to_address == "new.member@example.org"
    assert "Meaningful work" in stored.subject


def test_sending_twice_sends_once(smtp_app, db, smtp_server):
    row = invite_someone(smtp_app, db)
    db.session.commit()
    assert send_outbox_email.run(row.id) == "sent"
    assert send_outbox_email.run(row.id) == "nothing to do"
    (message,) = smtp_server.messages
    (stored,) = outbox_rows(db)
    assert message["Message-ID"] == stored.message_id
    assert message["To"] == "new.member@example.org"
    assert "Meaningful work" in message["Subject"]
    assert "http://localhost/invitations/" in message.get_body(("plain",)).get_content()
    assert stored.status == OutboxStatus.SENT and stored.attempts == 1
    assert stored.sent_at is not None and stored.last_error is None


def test_list_unsubscribe_goes_over_smtp_as_plain_ascii_on_one_line(smtp_app, db, smtp_server):
    """A long link would be RFC 2047-encoded by email's default policy; clients then offer no
    one-click unsubscribe. The bytes the server received say what a client reads."""
    link = "http://localhost/routines/unsubscribe/" + "eyJyIjoxLCJ1IjoyfQ." + "x" * 120
    row = invite_someone(smtp_app, db)
    row.headers = {"List-Unsubscribe": f"<{link}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    db.session.commit()
    assert send_outbox_email.run(row.id) == "sent"
    (raw,) = smtp_server.raw
    assert b"\r\nList-Unsubscribe: <" + link.encode() + b">\r\n" in raw
    assert_one_click_unsubscribe(raw, link)
    assert b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0]


def test_temporary_smtp_refusal_schedules_a_retry_with_backoff(smtp_app, db, smtp_server,
                                                               published):
    smtp_server.refuse(rcpt="451 4.3.0 Mailbox busy, try again later")
    row = invite_someone(smtp_app, db)
    db.session.commit()
    published()
    task = smtp_app.extensions["celery"].tasks[SEND_TASK]
    # As in a worker: a request that is neither eager nor a direct call, so retry() publishes.
    task.push_request(id="test-retry", args=[row.id], kwargs={}, retries=0,
                      called_directly=False, is_eager=False, delivery_info={})
    try:
        with pytest.raises(Retry):
            task.run(row.id)
    finally:
        task.pop_request()
    (stored,) = outbox_rows(db)
    assert stored.status == OutboxStatus.PENDING
    assert stored.attempts == 1
    assert "451" in stored.last_error
    wait = (stored.next_attempt_at - utcnow()).total_seconds()
    assert tasks.RETRY_BASE_SECONDS - 5 < wait <= tasks.RETRY_BASE_SECONDS
    (retry,) = published()
    assert retry[0] == row.id
    assert retry[1]["retries"] == 1 and retry[1]["eta"]
    assert smtp_server.messages == []


def test_backoff_doubles_and_is_capped_below_the_visibility_timeout(app):
    delays = [tasks.retry_delay(n) for n in range(1, tasks.MAX_ATTEMPTS + 1)]
    assert delays[:3] == [10, 20, 40]
    assert max(delays) == tasks.RETRY_MAX_SECONDS
    visibility = app.config["CELERY"].get("broker_transport_options", {}).get(
        "visibility_timeout", 3600)  # Kombu's default where the transport has one
    assert visibility > tasks.RETRY_MAX_SECONDS


def test_permanent_smtp_refusal_marks_the_row_failed(smtp_app, db, smtp_server, published):
    smtp_server.refuse(rcpt="550 5.1.1 No such user here")
    row = invite_someone(smtp_app, db)
    db.session.commit()
    published()
    assert send_outbox_email.run(row.id) == "failed"
    (stored,) = outbox_rows(db)
    assert stored.status == OutboxStatus.FAILED
    assert "550" in stored.last_error and "No such user" in stored.last_error
    assert published() == [], "a permanent refusal is not retried"
    assert send_outbox_email.run(row.id) == "nothing to do"
    assert smtp_server.messages == []


def test_temporary_refusals_give_up_after_the_last_attempt(smtp_app, db, smtp_server):
    smtp_server.refuse(data="452 4.3.1 Insufficient system storage")
    row = invite_someone(smtp_app, db)
    db.session.commit()
    row.attempts = tasks.MAX_ATTEMPTS - 1
    db.session.commit()
    assert send_outbox_email.run(row.id) == "failed"
    (stored,) = outbox_rows(db)
    assert stored.status == OutboxStatus.FAILED and "452" in stored.last_error


def test_unreachable_smtp_server_is_temporary(app, db, monkeypatch):
    from tests.smtp import free_port

    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())
    row = invite_someone(app, db)
    db.session.commit()
    assert send_outbox_email.run(row.id) == "retry later"
    (stored,) = outbox_rows(db)
    assert stored.status == OutboxStatus.PENDING and stored.last_error.startswith(
        "ConnectionRefusedError")
    assert stored.next_attempt_at > utcnow()


@pytest.mark.parametrize(("exc", "transient"), [
    (smtplib.SMTPRecipientsRefused({"a@x.org": (450, b"busy")}), True),
    (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}), False),
    (smtplib.SMTPDataError(421, b"closing"), True),
    (smtplib.SMTPDataError(554, b"rejected as spam"), False),
    (smtplib.SMTPSenderRefused(553, b"bad sender", "coprod@localhost"), False),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
    (smtplib.SMTPServerDisconnected("gone"), True),
    (smtplib.SMTPNotSupportedError("no STARTTLS"), False),
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError(), True),
    (ValueError("header with a newline"), False),
])
def test_transient_or_permanent(exc, transient):
    assert is_transient(exc) is transient


def test_file_backend_writes_one_eml_per_row_sorted_by_creation(app, db, outbox):
    first = invite_someone(app, db, "first@example.org")
    second = invite_someone(app, db, "second@example.org")
    db.session.commit()
    messages = outbox.messages()
    assert [m["To"] for m in messages] == ["first@example.org", "second@example.org"]
    assert [m["Message-ID"] for m in messages] == [first.message_id, second.message_id]
    # A resend of the same row (say, after a crash before the commit) replaces its file.
    first.status = OutboxStatus.PENDING
    db.session.commit()
    assert len(outbox.messages()) == 2


def test_message_id_is_fixed_per_row_and_unique_per_installation(app, db):
    now = utcnow()
    assert message_id_for("invitation:1", now, "example.org") == \
        message_id_for("invitation:1", now, "example.org")
    # A new database reusing the key must not look like an email already seen.
    assert message_id_for("invitation:1", now, "example.org") != \
        message_id_for("invitation:1", now + timedelta(microseconds=1), "example.org")
    row = invite_someone(app, db)
    assert row.message_id.endswith("@localhost>")  # MAIL_FROM's domain


def test_queuing_the_same_key_twice_yields_one_row(app, db):
    with app.test_request_context():
        kwargs = dict(key="reset:test", to="a@example.org", template="password_reset",
                      subject="Reset\nyour password", user=None, link="http://x", minutes=5)
        first = queue_email(**kwargs)
        again = queue_email(**kwargs)
    assert first.id == again.id
    assert first.subject == "Reset your password"  # a header is one line
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_relay_enqueues_only_rows_due_and_pending(app, db, published):
    rows = [invite_someone(app, db, f"p{i}@example.org") for i in range(4)]
    db.session.commit()
    published()
    due, fresh, sent, backing_off = rows
    an_hour_ago = utcnow() - timedelta(hours=1)
    due.next_attempt_at = an_hour_ago
    sent.next_attempt_at = an_hour_ago
    sent.status = OutboxStatus.SENT
    backing_off.next_attempt_at = utcnow() + timedelta(minutes=5)
    db.session.commit()
    assert relay_outbox.run() == 1
    assert [outbox_id for outbox_id, _ in published()] == [due.id]
    assert relay_outbox.run(older_than_seconds=0) == 2
    assert sorted(outbox_id for outbox_id, _ in published()) == [due.id, fresh.id]


# -- two senders of one row: the row lock -----------------------------------------------------

@pytest.mark.committed  # a second connection must see the row
def test_postgres_skips_a_row_another_worker_is_sending(smtp_app, db, smtp_server):
    row = invite_someone(smtp_app, db)
    db.session.commit()
    with db.engine.connect() as other_worker:
        other_worker.execute(text("SELECT id FROM outbox_emails WHERE id = :id FOR UPDATE"),
                             {"id": row.id})
        assert send_outbox_email.run(row.id) == "nothing to do"
        other_worker.rollback()
    assert send_outbox_email.run(row.id) == "sent"
    assert len(smtp_server.messages) == 1


def test_sqlite_second_sender_waits_then_finds_the_row_sent(app, tmp_path):
    """SQLite has no row locks: the claim's UPDATE takes the database write lock instead."""
    from flask_migrate import upgrade

    from coprod.extensions import db
    from tests.mail.conftest import close_app, other_app

    embedded = other_app(tmp_path / "instance",
                         database_url=f"sqlite:///{tmp_path / 'instance' / 'coprod.db'}",
                         REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://")
    result = {}

    def second_sender(outbox_id):
        with embedded.app_context():
            result["second"] = send_outbox_email.run(outbox_id)

    try:
        with embedded.app_context():
            upgrade()
            row = invite_someone(embedded, db)
            db.session.commit()
            with db.engine.connect() as first_sender:
                first_sender.execute(text("UPDATE outbox_emails SET attempts = attempts + 1 "
                                          "WHERE id = :id"), {"id": row.id})
                thread = threading.Thread(target=second_sender, args=(row.id,))
                thread.start()
                thread.join(0.5)
                assert thread.is_alive(), "the second sender must wait for the first"
                first_sender.execute(text("UPDATE outbox_emails SET status = 'sent' "
                                          "WHERE id = :id"), {"id": row.id})
                first_sender.commit()
            thread.join(10)
            assert result == {"second": "nothing to do"}
            assert not list(Path(embedded.config["MAIL_FILE_DIR"]).glob("*.eml"))
            db.session.remove()
    finally:
        close_app(embedded, default_celery_of=app)


@pytest.mark.parametrize("to", ["a@b.org\r\nBcc: x@y.org", "a@b.org\nBcc: x@y.org", ""])
def test_the_outbox_refuses_a_recipient_that_would_add_header_lines(app, db, to):
    with pytest.raises(ValueError, match="Refusing to queue"):
        queue_email(key="test:to", to=to, template="password_reset", subject="Hello",
                    user=None, link="http://localhost/", minutes=30)
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
