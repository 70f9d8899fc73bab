"""Fixtures for the outbox tests: a real SMTP server, real Redis, real worker processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from coprod.mail.outbox import SEND_TASK
from tests.conftest import (
    TEST_DATABASE_URL,
    TEST_REDIS_URL,
    celery_back_to,
    dispose,
    make_app,
    published_tasks,
)
from tests.smtp import smtp_server  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
# Settings a worker must not inherit from the developer's shell.
_FOREIGN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_ALWAYS_EAGER",
                     "SMTP_HOST", "SMTP_PORT", "MAIL_FILE_DIR", "COPROD_INSTANCE_PATH")


@pytest.fixture
def redis_db():
    """The test's Redis database, empty before and after (it is the broker of these tests)."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def other_app(instance: Path, **overrides):
    """A second app next to the session's `app` (another broker, database...)."""
    return make_app(instance, **overrides)


def close_app(app, default_celery_of=None) -> None:
    """Close a second app's connections; give the Celery default back to the session app."""
    dispose(app)
    if default_celery_of is not None:
        celery_back_to(default_celery_of)


@pytest.fixture
def broker_app(app, redis_db, tmp_path):
    """An app like the web's in production: the test database, Redis as the broker."""
    web = other_app(tmp_path / "web", CELERY={"broker_url": TEST_REDIS_URL})
    try:
        yield web
    finally:
        close_app(web, default_celery_of=app)


class WorkerProcess:
    """`celery -A celery_worker worker` in a subprocess, its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--pool=solo",
             "-Q", "celery", "-n", f"coprod-test-{os.getpid()}@%h", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 30.0, count: int = 1) -> None:
        """Wait until the regular expression matches `count` times in the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not in the worker log within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Warm shutdown (SIGTERM); kill if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def worker_env(instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a worker: a clean slate plus the given Coprod settings."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_SETTINGS}
    env.update(COPROD_INSTANCE_PATH=str(instance), SECRET_KEY="test-secret-not-for-production",
               PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def plain_postgres_url(url: str = TEST_DATABASE_URL) -> str:
    """The test database as an operator would write it (config adds the driver)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def start_worker(tmp_path):
    """start_worker(**settings) -> a running WorkerProcess; all are stopped at teardown."""
    workers: list[WorkerProcess] = []

    def _start(**settings: str) -> WorkerProcess:
        instance = tmp_path / f"worker{len(workers)}"
        instance.mkdir()
        log_path = tmp_path / f"worker{len(workers)}.log"
        worker = WorkerProcess(worker_env(instance, **settings), log_path)
        workers.append(worker)
        worker.wait_for_log(r" ready\.")
        return worker

    try:
        yield _start
    finally:
        for worker in workers:
            worker.stop()


def published_sends(app) -> list[tuple[int, dict]]:
    """Take every message off the in-memory broker: (outbox id, headers) of each send task."""
    return [(args[0], headers) for args, headers in published_tasks(app, SEND_TASK)]


@pytest.fixture
def published(app):
    """published() -> send tasks published since the test started (the queue starts empty)."""
    published_sends(app)
    return lambda: published_sends(app)
