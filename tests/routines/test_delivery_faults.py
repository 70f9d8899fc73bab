"""Nothing lost, nothing twice: routines' emails through real processes while things break.

A real Celery worker (killed with SIGKILL), real Redis (stopped and started again), two real
beat processes with RedBeat, and aiosmtpd receiving the mail. Each test counts Message-IDs:
every outbox row's Message-ID arrives, none missing, and once, except that a worker killed
between the server's 250 and its commit may send one email twice. Every test is bounded in
time and stops the processes it started in a `finally`.
"""

from __future__ import annotations

import collections
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from coprod.accounts.models import Role
from coprod.extensions import db
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.routines.models import Prompt, RoutineAudienceRole
from coprod.routines.tasks import sweep_now
from tests.conftest import TEST_REDIS_URL
from tests.factories import PASSWORD, CollaborationFactory, member
from tests.mail.conftest import (  # noqa: F401  (fixtures)
    ROOT,
    WorkerProcess,
    broker_app,
    close_app,
    other_app,
    plain_postgres_url,
    redis_db,
    worker_env,
)
from tests.reflections.page_fixtures import reflection_form
from tests.routines.due import due_routine
from tests.smtp import free_port, smtp_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.worker

RELAY_TASK = "coprod.mail.tasks.relay_outbox"
SWEEP_TASK = "coprod.routines.tasks.run_due_routines"


# -- helpers --------------------------------------------------------------------------------

def wait_until(condition, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def rows(web_app) -> list[OutboxEmail]:
    with web_app.app_context():
        found = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        db.session.expunge_all()
        return found


def assert_each_row_arrived_once(web_app, smtp_server,  # noqa: F811
                                 kills: int = 0) -> list[OutboxEmail]:
    """Every row sent, and its Message-ID received exactly once; nothing else received.

    A row is marked sent only after the server's 250, so a worker killed between that reply
    and the commit sends its email again (same Message-ID): at most one more per kill.
    """
    sent = rows(web_app)
    received = collections.Counter(m["Message-ID"] for m in smtp_server.messages)
    twice = {mid: n for mid, n in received.items() if n > 1}
    if kills and sum(twice.values()) - len(twice) <= kills and max(twice.values(), default=0) <= 2:
        twice = {}
    missing = [r.message_id for r in sent if r.message_id not in received]
    unknown = set(received) - {r.message_id for r in sent}
    assert not twice, f"received more than once: {twice}"
    assert not missing, f"never received: {missing}"
    assert not unknown, f"received but no such row: {unknown}"
    assert {r.status for r in sent} == {OutboxStatus.SENT}
    return sent


def relay_now(web_app) -> None:
    """What beat does every minute, with the grace period waived."""
    web_app.extensions["celery"].send_task(RELAY_TASK, kwargs={"older_than_seconds": 0})


def start_worker_process(tmp_path: Path, n: int, **settings: str) -> WorkerProcess:
    instance = tmp_path / f"worker{n}"
    instance.mkdir(exist_ok=True)
    worker = WorkerProcess(worker_env(instance, **settings), tmp_path / f"worker{n}.log")
    worker.wait_for_log(r" ready\.")
    return worker


def kill(worker: WorkerProcess) -> None:
    if worker.proc.poll() is None:
        worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait(timeout=10)
    worker.stop()  # closes its log


def community(web_app, size: int, **routine_fields):
    """A collaboration whose due routine prompts `size` staff members; committed."""
    with web_app.test_request_context():
        collab = CollaborationFactory(title="Meaningful work")
        coordinator = member(collab, Role.COORDINATOR).user
        staff = [member(collab, Role.PARTNER_STAFF).user for _ in range(size)]
        routine = due_routine(collab, audience_roles=[
            RoutineAudienceRole(role=Role.PARTNER_STAFF)], **routine_fields)
        db.session.commit()
        return collab.id, coordinator.email, [u.id for u in staff], routine.id


# -- (a) the worker killed mid-batch --------------------------------------------------------

PROMPTS = 210
KILLS = 4


# A server that answers at once, and a slow one (each 250 held back 50 ms, so that many kills
# land while the server holds a message it has not accepted yet: such a message must be
# sent again, never marked sent).
@pytest.mark.parametrize("reply_delay", [0, 0.05], ids=["prompt server", "slow server"])
def test_a_batch_of_prompts_arrives_once_each_though_the_worker_is_killed_again_and_again(
        broker_app, smtp_server, tmp_path, reply_delay):  # noqa: F811
    settings = {"DATABASE_URL": plain_postgres_url(), "REDIS_URL": TEST_REDIS_URL,
                **smtp_server.env()}
    smtp_server.hold_reply(reply_delay)
    community(broker_app, PROMPTS)
    rng = random.Random()
    # Kill when this many emails have arrived, then after a random pause: mid-SMTP, mid-commit,
    # between tasks, wherever that lands.
    thresholds = sorted(rng.sample(range(15, PROMPTS - 30), KILLS))
    workers = [start_worker_process(tmp_path, 0, **settings)]
    deadline = time.monotonic() + 75 + PROMPTS * reply_delay
    try:
        with broker_app.app_context():
            result = sweep_now()  # commits the prompts and publishes one send task each
        assert (result.prompts, result.errors) == (PROMPTS, [])
        for n, threshold in enumerate(thresholds, start=1):
            wait_until(lambda t=threshold: len(smtp_server.messages) >= t,
                       deadline - time.monotonic(), f"{threshold} emails", interval=0.005)
            time.sleep(rng.uniform(0, 0.03))
            kill(workers[-1])
            workers.append(start_worker_process(tmp_path, n, **settings))
        # A task taken by a killed worker is not acknowledged; Redis would hand it out again
        # after the visibility timeout (hours). The relay picks its row up instead, and may
        # enqueue rows still queued: those find the row sent and do nothing.
        relay_now(broker_app)
        wait_until(lambda: all(r.status == OutboxStatus.SENT for r in rows(broker_app)),
                   max(1, deadline - time.monotonic()), "every row sent")
        relay_now(broker_app)  # a second relay finds nothing pending
        workers[-1].wait_for_log(r"relay_outbox\[[^\]]+\] succeeded in [^:]+: 0")
        time.sleep(0.5)
    finally:
        for worker in workers:
            kill(worker)

    sent = assert_each_row_arrived_once(broker_app, smtp_server, kills=KILLS)
    assert len(sent) == PROMPTS
    assert {r.key.partition(":")[0] for r in sent} == {"prompt"}
    logs = "".join(w.log() for w in workers[:-1])
    assert len(re.findall(r"succeeded in [^:]+: 'sent'", logs)) < PROMPTS, \
        "the kills must have come before the batch was done"


# -- (b) Redis stopped and started again while members post ---------------------------------

REDIS_OUTAGE_SECONDS = 30

class RedisServer:
    """A redis-server of the test's own on a free port, without persistence, so that stopping
    it loses what it held (as a crashed Redis may) and the shared Redis is never touched."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            wait_until(lambda: self._pong(client), 10, "redis-server to answer")
        finally:
            client.close()

    @staticmethod
    def _pong(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def staff_emails(web_app, user_ids: list[int]) -> list[str]:
    from coprod.accounts.models import User

    with web_app.app_context():
        return [db.session.get(User, user_id).email for user_id in user_ids]


def log_in(client, email: str) -> None:
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_posting_while_redis_is_down_loses_no_email_and_sends_none_twice(
        app, smtp_server, tmp_path):  # noqa: F811
    server = RedisServer(tmp_path)
    server.start()
    web = other_app(tmp_path / "web", CELERY={"broker_url": server.url})
    worker = None
    try:
        collab_id, poster, staff, _ = community(web, 4)
        worker = start_worker_process(tmp_path, 0, DATABASE_URL=plain_postgres_url(),
                                      REDIS_URL=server.url, **smtp_server.env())
        browser = web.test_client()
        log_in(browser, poster)
        new = f"/c/{collab_id}/reflections/new"

        # Redis up: the mention goes out at once.
        assert browser.post(new, data=reflection_form(mentions=[staff[0]])).status_code == 302
        smtp_server.wait_for(1)

        server.stop()
        down_since = time.monotonic()
        for n, mentioned in enumerate(staff[1:], start=1):
            started = time.monotonic()
            response = browser.post(new, data=reflection_form(
                body=f"Handover {n} got lost", mentions=[mentioned]))
            assert response.status_code == 302  # posted, though the broker is gone
            assert time.monotonic() - started < 5, "a dead broker must not hold the request"
        with web.app_context():
            result = sweep_now()  # the routine's prompts, too, wait in the outbox
        assert result.prompts == len(staff) and not result.errors
        waiting = [r for r in rows(web) if r.status == OutboxStatus.PENDING]
        assert len(waiting) == len(staff) - 1 + len(staff)  # mentions and prompts
        time.sleep(1)
        assert len(smtp_server.messages) == 1, "nothing can have been handed to the worker"

        # An outage of REDIS_OUTAGE_SECONDS in all, the worker waiting for its broker.
        time.sleep(max(0.0, down_since + REDIS_OUTAGE_SECONDS - time.monotonic()))
        server.start()  # empty: whatever it held before is gone
        worker.wait_for_log(r"Connected to redis://", count=2, timeout=45)
        relay_now(web)
        wait_until(lambda: len(smtp_server.messages) >= 1 + len(waiting), 30,
                   "the waiting emails")
        relay_now(web)
        worker.wait_for_log(r"relay_outbox\[[^\]]+\] succeeded in [^:]+: 0")
        time.sleep(0.5)
        sent = assert_each_row_arrived_once(web, smtp_server)
        emails = staff_emails(web, staff)
    finally:
        if worker is not None:
            worker.stop()
        close_app(web, default_celery_of=app)
        server.stop()

    prompts = [r for r in sent if r.key.startswith("prompt:")]
    assert len(prompts) == len(staff) and len(sent) == 2 * len(staff)  # and 4 mentions
    assert {r.to_address for r in sent if r not in prompts} == set(emails)


# -- (c) two beats, one schedule ------------------------------------------------------------

BEAT_ENTRY = '''\
"""celery -A beat_entry beat: the app of celery_worker.py, its sweep every second."""
from coprod import create_app

flask_app = create_app({"CELERY": {
    "beat_schedule": {
        "run-due-routines": {"task": "%(sweep)s", "schedule": 1.0},
        "relay-outbox": {"task": "coprod.mail.tasks.relay_outbox", "schedule": 3600.0},
    },
    "beat_max_loop_interval": 1,
    "redbeat_lock_timeout": 5,
}})
app = flask_app.extensions["celery"]
'''


class BeatProcess:
    """`celery -A beat_entry beat` in a subprocess, its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "beat_entry", "beat", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sends(self) -> int:
        return len(re.findall(r"Sending due task run-due-routines", self.log()))

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def sweeps_run(worker: WorkerProcess) -> int:
    return len(re.findall(r"run_due_routines\[[^\]]+\] succeeded", worker.log()))


def test_two_beats_fire_the_sweep_from_one_and_the_routine_prompts_once(
        broker_app, smtp_server, tmp_path):  # noqa: F811
    (tmp_path / "beat_entry.py").write_text(BEAT_ENTRY % {"sweep": SWEEP_TASK})
    settings = {"DATABASE_URL": plain_postgres_url(), "REDIS_URL": TEST_REDIS_URL,
                "REDBEAT_KEY_PREFIX": f"coprod-test-{os.getpid()}:redbeat", **smtp_server.env()}
    community(broker_app, 5)
    worker = start_worker_process(tmp_path, 0, **settings)
    beats: list[BeatProcess] = []
    try:
        for n in range(2):
            instance = tmp_path / f"beat{n}"
            instance.mkdir()
            env = worker_env(instance, **settings)
            env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
            beats.append(BeatProcess(env, tmp_path / f"beat{n}.log"))
        first = wait_until(lambda: next((b for b in beats if "Acquired lock" in b.log()), None),
                           30, "a beat to take the lock")
        second = beats[1] if first is beats[0] else beats[0]
        wait_until(lambda: first.sends() >= 5, 30, "five sweeps from the first beat")
        time.sleep(2)  # both run side by side a while longer

        assert second.sends() == 0 and "Acquired lock" not in second.log()
        wait_until(lambda: sweeps_run(worker) >= first.sends() - 1, 15, "the sweeps to run")
        # Had the second beat fired too, the worker would have run more sweeps than the
        # first beat sent.
        assert sweeps_run(worker) <= first.sends()
        smtp_server.wait_for(5)

        # The beat holding the lock dies: the other takes over once the lock expires.
        first.stop(signal.SIGKILL)
        wait_until(lambda: second.sends() >= 2, 30, "the second beat to take over")
        assert "Acquired lock" in second.log()
        time.sleep(0.5)
    finally:
        for beat in beats:
            beat.stop()
        worker.stop()

    with broker_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Prompt)) == 5
    sent = assert_each_row_arrived_once(broker_app, smtp_server)
    assert len(sent) == 5


# -- (d) beat rides out a Redis outage ------------------------------------------------------

OUTAGE_SECONDS = 30


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_beat_outlives_a_redis_outage_and_fires_the_sweep_once_redis_is_back(
        app, tmp_path):
    """RedBeat extends its lock in Redis on every tick: with Redis gone, plain RedBeat raised
    ConnectionError 8-10 s later and beat exited, and nothing swept until someone restarted
    it. Beat must stay up through the outage and fire again once Redis is back (empty)."""
    (tmp_path / "beat_entry.py").write_text(BEAT_ENTRY % {"sweep": SWEEP_TASK})
    server = RedisServer(tmp_path)
    server.start()
    instance = tmp_path / "beat"
    instance.mkdir()
    env = worker_env(instance, DATABASE_URL=plain_postgres_url(), REDIS_URL=server.url)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    beat = BeatProcess(env, tmp_path / "beat.log")
    client = redis.Redis.from_url(server.url, socket_connect_timeout=0.5)
    try:
        wait_until(lambda: beat.sends() >= 2, 30, "beat to fire the sweep")
        server.stop()
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < outage_ends:
            assert beat.proc.poll() is None, f"beat exited during the outage:\n{beat.log()}"
            time.sleep(0.5)
        fired_before = beat.sends()

        server.start()  # empty: the schedule and the lock RedBeat kept there are gone
        wait_until(lambda: beat.sends() >= fired_before + 2, 30,
                   "beat to fire the sweep again")
        # The sweeps reached the broker: they wait in the queue (no worker here).
        wait_until(lambda: client.llen("celery") >= 2, 10, "the sweep tasks in the queue")
        assert beat.proc.poll() is None
    finally:
        client.close()
        beat.stop()
        server.stop()
    log = beat.log()
    assert "beat raised exception" not in log
    assert "Redis is unreachable" in log and "Redis answers again" in log
