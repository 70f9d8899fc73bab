"""The `coprod` command line: users, tokens, the demo, and `coprod run` supervising its children."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from coprod.accounts.models import ApiToken, Role, User
from coprod.common import utcnow
from coprod.demo import DEMO_COORDINATOR_EMAIL, PEOPLE, TITLE
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.routines.models import Prompt, RoutineAudienceRole
from coprod.spaces.models import Collaboration
from tests.factories import CollaborationFactory, member
from tests.mail.conftest import published_sends
from tests.routines.due import due_routine

PASSWORD = "a long enough password"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args, **kwargs):
        return runner.invoke(args=list(args), **kwargs)

    return invoke


def row_counts(db) -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables}


# -- users ----------------------------------------------------------------------------------

def test_users_create_makes_an_account_that_can_log_in(cli, db):
    result = cli("users", "create", "--email", " Ada@Example.org ", "--name", "Ada Lovelace",
                 "--password", PASSWORD, "--timezone", "Europe/Copenhagen")

    assert result.exit_code == 0, result.output
    assert "Created user ada@example.org (Ada Lovelace)." in result.output
    user = db.session.scalar(select(User).where(User.email == "ada@example.org"))
    assert user.display_name == "Ada Lovelace"
    assert user.timezone == "Europe/Copenhagen"
    assert user.check_password(PASSWORD)
    assert PASSWORD not in (user.password_hash or "")


def test_users_create_asks_for_the_password_twice(cli, db):
    result = cli("users", "create", "--email", "bo@example.org", "--name", "Bo",
                 input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # typed hidden
    assert db.session.scalar(select(User).where(User.email == "bo@example.org")).check_password(
        PASSWORD)


def test_users_create_refuses_a_duplicate_email_clearly(cli, db):
    assert cli("users", "create", "--email", "cy@example.org", "--name", "Cy",
               "--password", PASSWORD).exit_code == 0

    result = cli("users", "create", "--email", "CY@example.org", "--name", "Cy again",
                 "--password", PASSWORD)

    assert result.exit_code == 1
    assert "Error: Cannot create the user CY@example.org (email): " \
           "An account with this email already exists." in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


HEADER_INJECTION = "a@b\r\nBcc: x@y"
NOT_AN_ADDRESS = "This is not an email address; write it like name@example.org."


@pytest.mark.parametrize("email", [HEADER_INJECTION, "not-an-email", "Ada <ada@example.org>"])
def test_users_create_refuses_what_is_not_an_email_address(cli, db, email):
    result = cli("users", "create", "--email", email, "--name", "Mallory",
                 "--password", PASSWORD)

    assert result.exit_code == 1
    assert f"(email): {NOT_AN_ADDRESS}" in result.output
    assert "Bcc" not in "".join(line for line in result.output.splitlines()
                                if not line.startswith("Error:"))  # no line of its own
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_refuses_a_short_password(cli, db):
    result = cli("users", "create", "--email", "di@example.org", "--name", "Di",
                 "--password", "short")

    assert result.exit_code == 1
    assert "(password): Use at least 10 characters." in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("option, value, message", [
    ("--timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("--locale", "xx", "choose one of en"),
])
def test_users_create_refuses_unknown_settings(cli, db, option, value, message):
    result = cli("users", "create", "--email", "ed@example.org", "--name", "Ed",
                 "--password", PASSWORD, option, value)

    assert result.exit_code == 2
    assert message in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


# -- tokens ---------------------------------------------------------------------------------

def test_tokens_create_prints_a_secret_that_opens_the_api(cli, db, client):
    cli("users", "create", "--email", "fay@example.org", "--name", "Fay", "--password", PASSWORD)

    result = cli("tokens", "create", "fay@example.org", "--name", "nightly export")

    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("cpd_") and "\n" not in secret
    assert "not shown again" in result.stderr
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.digest(secret)))
    assert token.name == "nightly export" and token.user.email == "fay@example.org"
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == "fay@example.org"


def test_tokens_create_for_an_unknown_email_fails_clearly(cli, db):
    result = cli("tokens", "create", "nobody@example.org")

    assert result.exit_code == 1
    assert "No active user has the email nobody@example.org." in result.output
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


# -- demo -----------------------------------------------------------------------------------

def test_demo_seeds_once_and_prints_the_log_ins(cli, db):
    first = cli("demo")

    assert first.exit_code == 0, first.output
    assert f'Seeded the demo collaboration "{TITLE}": 5 partners, 9 members' in first.output
    assert "Every demo account has the password: coprod-demo" in first.output
    for person in PEOPLE:
        assert person.email in first.output
    assert db.session.scalar(select(Collaboration).where(Collaboration.title == TITLE))
    seeded = row_counts(db)
    assert seeded["users"] == len(PEOPLE) and seeded["partners"] == 5
    assert seeded["charter_revisions"] == 2

    second = cli("demo")

    assert second.exit_code == 0, second.output
    assert "is already there; nothing changed." in second.output
    assert DEMO_COORDINATOR_EMAIL in second.output
    db.session.expire_all()
    assert row_counts(db) == seeded


def test_demo_uses_the_password_from_the_environment(cli, db, monkeypatch):
    monkeypatch.setenv("COPROD_DEMO_PASSWORD", "a local secret phrase")

    result = cli("demo")

    assert result.exit_code == 0, result.output
    assert "Every demo account has the password: a local secret phrase" in result.output
    user = db.session.scalar(select(User).where(User.email == DEMO_COORDINATOR_EMAIL))
    assert user.check_password("a local secret phrase")


def test_demo_stops_cleanly_when_a_demo_email_is_taken(cli, db):
    cli("users", "create", "--email", DEMO_COORDINATOR_EMAIL, "--name", "Someone else",
        "--password", PASSWORD)

    result = cli("demo")

    assert result.exit_code == 1
    assert "Cannot seed the demo (email): An account with this email already exists." \
        in result.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Collaboration)) == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


# -- routines -------------------------------------------------------------------------------

def test_routines_run_due_prompts_the_audience_once(cli, db, outbox):
    collab = CollaborationFactory(title="Meaningful work")
    staff = [member(collab, Role.PARTNER_STAFF).user for _ in range(2)]
    member(collab, Role.OBSERVER)
    due_routine(collab, name="What worked",
                audience_roles=[RoutineAudienceRole(role=Role.PARTNER_STAFF)])
    db.session.commit()

    result = cli("routines", "run-due")

    assert result.exit_code == 0, result.output
    assert "Swept 1 routines: 2 prompts, 0 nudges, 0 errors." in result.output
    assert sorted(m["To"] for m in outbox.messages()) == sorted(u.email for u in staff)
    again = cli("routines", "run-due")
    assert "Swept 1 routines: 0 prompts, 0 nudges, 0 errors." in again.output
    assert db.session.scalar(select(func.count()).select_from(Prompt)) == 2


def test_routines_run_due_fails_when_a_routine_fails(cli, db):
    collab = CollaborationFactory()
    member(collab, Role.PARTNER_STAFF)
    routine = due_routine(collab)
    routine.timezone = "Mars/Olympus"
    db.session.commit()

    result = cli("routines", "run-due")

    assert result.exit_code == 1
    assert "Swept 0 routines: 0 prompts, 0 nudges, 1 errors." in result.stdout
    assert f"routine {routine.id}: ScheduleError" in result.stderr


# -- outbox ---------------------------------------------------------------------------------

def outbox_row(db, n: int, status=OutboxStatus.PENDING, **fields) -> OutboxEmail:
    row = OutboxEmail(key=f"test:{n}", message_id=f"<{n}@coprod.test>",
                      to_address=f"person{n}@example.org", subject="Hello", body_text="Hi",
                      status=status, **fields)
    db.session.add(row)
    db.session.flush()
    return row


def test_outbox_status_counts_each_status_and_shows_the_last_errors(cli, db):
    outbox_row(db, 1, created_at=utcnow() - timedelta(hours=2, minutes=5))
    outbox_row(db, 2)
    outbox_row(db, 3, OutboxStatus.SENT)
    failed = outbox_row(db, 4, OutboxStatus.FAILED,
                        last_error="SMTPRecipientsRefused: 550 No such user")
    retried = outbox_row(db, 5, OutboxStatus.PENDING, last_error="ConnectionRefusedError: refused")
    db.session.commit()

    result = cli("outbox", "status")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split() for line in lines[:4]] == [
        ["pending", "3"], ["sent", "1"], ["failed", "1"], ["cancelled", "0"]]
    assert "The oldest pending email has waited 2 h 5 min." in result.output
    assert lines[-3:] == [
        "Last errors:",
        f"  #{retried.id} pending to person5@example.org: ConnectionRefusedError: refused",
        f"  #{failed.id} failed to person4@example.org: SMTPRecipientsRefused: 550 No such user"]


def test_outbox_status_cannot_be_made_to_print_a_line_by_an_address(cli, db):
    """A row written before addresses were checked prints on one line, escaped."""
    row = outbox_row(db, 1, OutboxStatus.FAILED, last_error="SMTPRecipientsRefused: 550")
    row.to_address = "a@b\r\nfailed to boss@example.org: all fine"
    db.session.commit()

    lines = cli("outbox", "status").output.splitlines()

    assert lines[-2:] == ["Last errors:", f"  #{row.id} failed to a@b\\r\\nfailed to "
                          "boss@example.org: all fine: SMTPRecipientsRefused: 550"]


def test_outbox_status_of_an_empty_outbox(cli, db):
    result = cli("outbox", "status")
    assert result.exit_code == 0, result.output
    assert "oldest" not in result.output and "Last errors" not in result.output


def test_outbox_retry_puts_failed_rows_back_and_enqueues_them(app, cli, db, outbox):
    published_sends(app)  # the in-memory queue starts empty
    failed = [outbox_row(db, n, OutboxStatus.FAILED, attempts=8, last_error="550 no")
              for n in (1, 2)]
    sent = outbox_row(db, 3, OutboxStatus.SENT, attempts=1)
    db.session.commit()

    result = cli("outbox", "retry")

    assert result.exit_code == 0, result.output
    assert "2 failed emails back in the queue; 2 handed to the worker now." in result.output
    assert sorted(outbox_id for outbox_id, _ in published_sends(app)) == [r.id for r in failed]
    db.session.expire_all()
    assert [(r.status, r.attempts) for r in failed] == [(OutboxStatus.PENDING, 0)] * 2
    assert sent.status == OutboxStatus.SENT and sent.attempts == 1
    assert sorted(m["Message-ID"] for m in outbox.messages()) == ["<1@coprod.test>",
                                                                   "<2@coprod.test>"]


def test_outbox_retry_of_one_row_leaves_the_others(app, cli, db):
    published_sends(app)
    first, second = (outbox_row(db, n, OutboxStatus.FAILED, attempts=8) for n in (1, 2))
    sent = outbox_row(db, 3, OutboxStatus.SENT)
    db.session.commit()

    result = cli("outbox", "retry", "--id", str(second.id), "--id", str(sent.id))

    assert result.exit_code == 0, result.output
    assert "1 failed emails back in the queue" in result.output
    assert f"Not failed (or no such email), left alone: #{sent.id}." in result.output
    assert [outbox_id for outbox_id, _ in published_sends(app)] == [second.id]
    db.session.expire_all()
    assert first.status == OutboxStatus.FAILED and second.status == OutboxStatus.PENDING
    assert sent.status == OutboxStatus.SENT


# -- coprod run -----------------------------------------------------------------------------

SERVER_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_ALWAYS_EAGER",
                   "SMTP_HOST", "MAIL_FILE_DIR", "SECRET_KEY", "BASE_URL")


def _coprod_command() -> list[str]:
    script = Path(sys.executable).with_name("coprod")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from coprod.cli import main; main()"]


def _embedded_env(instance: Path) -> dict[str, str]:
    """No server settings at all: SQLite, the SQLite broker and .eml files in `instance`."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_SETTINGS}
    env["COPROD_INSTANCE_PATH"] = str(instance)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                          if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.mark.worker
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_run_serves_sends_mail_from_the_embedded_broker_and_stops_on_sigint(tmp_path):
    instance = tmp_path / "instance"
    env = _embedded_env(instance)
    coprod = _coprod_command()
    subprocess.run([*coprod, "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=60)
    port = _free_port()
    log = (tmp_path / "run.log").open("wb")
    run = subprocess.Popen([*coprod, "run", "--port", str(port)], env=env, stdout=log,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _healthy(port), 30, "GET /healthz to answer 200")
        children = _wait_for(lambda: len(_children_of(run.pid)) == 3 and _children_of(run.pid),
                             10, "web, worker and beat")

        # The demo's emails (its invitations among them) go through the outbox, the SQLite
        # broker and the worker.
        demo = subprocess.run([*coprod, "demo"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert demo.returncode == 0, demo.stderr
        with sqlite3.connect(instance / "coprod.db") as database:
            queued = database.execute("SELECT count(*) FROM outbox_emails").fetchone()[0]
        assert queued >= len(PEOPLE) - 1  # one invitation per member at least
        _wait_for(lambda: len(list((instance / "mail").glob("*.eml"))) == queued, 30,
                  f"{queued} .eml files written by the worker")

        started = time.monotonic()
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=15) == 0
        assert time.monotonic() - started < 15
        assert not [pid for pid in children if _alive(pid)]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in _children_of(run.pid):
            os.kill(pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(instance, ignore_errors=True)


@pytest.mark.worker
def test_run_stops_everything_when_a_child_dies(tmp_path):
    instance = tmp_path / "instance"
    env = _embedded_env(instance)
    with socket.socket() as taken:  # the web server cannot bind: it exits at once
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([*_coprod_command(), "run", "--port", str(port)], env=env,
                             capture_output=True, text=True, timeout=60)

    assert run.returncode != 0
    assert "web exited with status" in run.stderr
    assert "stopping the others" in run.stderr
