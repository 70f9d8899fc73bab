"""Celery settings that keep tasks safe: JSON only, late acks, no task lost to a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from celery.app.defaults import DEFAULTS

from coprod import config
from coprod.cli import beat_arguments
from coprod.mail import tasks
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.routines import tasks as routine_tasks

ROOT = Path(__file__).resolve().parents[1]
SERVER_SETTINGS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SMTP_HOST",
                   "MAIL_FILE_DIR", "CELERY_ALWAYS_EAGER")


@pytest.fixture
def bare_env(monkeypatch):
    """No server configured at all, as on a fresh machine."""
    for name in SERVER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_task_safety_settings(app):
    conf = app.extensions["celery"].conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]  # never pickle from the broker
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    send = app.extensions["celery"].tasks["coprod.mail.tasks.send_outbox_email"]
    assert send.acks_late is True


def test_redis_visibility_timeout_outlasts_the_longest_countdown(bare_env, tmp_path):
    bare_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    celery = config.load(str(tmp_path))["CELERY"]
    assert celery["broker_url"] == "redis://127.0.0.1:6379/0"
    visibility = celery["broker_transport_options"]["visibility_timeout"]
    longest = max(tasks.retry_delay(n) for n in range(1, tasks.MAX_ATTEMPTS + 1))
    assert visibility > 2 * longest
    # Publishing runs inside web requests: bounded when Redis is unreachable.
    assert celery["broker_transport_options"]["socket_connect_timeout"] <= 5
    assert celery["task_publish_retry_policy"]["max_retries"] <= 1


def test_embedded_default_needs_no_server(bare_env, tmp_path):
    settings = config.load(str(tmp_path))
    assert settings["CELERY"]["broker_url"] == f"sqla+sqlite:///{tmp_path / 'celery-broker.db'}"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'coprod.db'}"
    assert settings["SMTP_HOST"] is None
    assert settings["MAIL_FILE_DIR"] == str(tmp_path / "mail")


def test_plain_postgresql_url_gets_the_psycopg_driver(bare_env, tmp_path):
    bare_env.setenv("DATABASE_URL", "postgresql://u@db.example.org/coprod")
    url = config.load(str(tmp_path))["SQLALCHEMY_DATABASE_URI"]
    assert url == "postgresql+psycopg://u@db.example.org/coprod"


def test_beat_relays_the_outbox_every_minute(app):
    celery_app = app.extensions["celery"]
    entry = celery_app.conf.beat_schedule["relay-outbox"]
    assert entry["schedule"] == 60.0
    assert entry["task"] in celery_app.tasks  # a task the worker knows by that name


def test_beat_sweeps_the_routines_every_minute(app):
    celery_app = app.extensions["celery"]
    entry = celery_app.conf.beat_schedule["run-due-routines"]
    assert entry["schedule"] == 60.0
    assert entry["task"] == routine_tasks.run_due_routines.name
    assert entry["task"] in celery_app.tasks
    assert "coprod.routines.tasks" in celery_app.conf.include  # the worker imports it


def test_with_redis_beat_uses_redbeat_and_its_lock(bare_env, tmp_path):
    bare_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    bare_env.setenv("DATABASE_URL", "postgresql://coprod:secret@db/coprod")
    celery = config.load(str(tmp_path))["CELERY"]
    assert celery["beat_scheduler"] == "coprod.beat:ResilientRedBeatScheduler"
    assert celery["redbeat_redis_url"] == "redis://127.0.0.1:6379/3"
    # The lock outlives several wake-ups (each extends it) but not a long outage of beat.
    assert 3 * celery["beat_max_loop_interval"] <= celery["redbeat_lock_timeout"] <= 300
    assert celery["redbeat_key_prefix"] == config.beat_key_prefix(
        "postgresql+psycopg://coprod:secret@db/coprod")
    assert beat_arguments(celery) == ["--scheduler", "coprod.beat:ResilientRedBeatScheduler"]


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:6379/3"])
def test_every_celery_setting_is_one_celery_knows(bare_env, tmp_path, redis_url):
    """A misspelt setting is silently ignored by Celery (RedBeat's own are read by RedBeat)."""
    if redis_url:
        bare_env.setenv("REDIS_URL", redis_url)
    celery = config.load(str(tmp_path))["CELERY"]
    unknown = [name for name in celery
               if name not in DEFAULTS and not name.startswith("redbeat_")]
    assert unknown == []


def test_redbeat_keys_are_per_installation(bare_env, tmp_path):
    """Every beat of one installation shares the lock; another installation on the same
    Redis has its own schedule and lock."""
    same = config.beat_key_prefix("postgresql+psycopg://coprod:old@db/coprod")
    assert same == config.beat_key_prefix("postgresql+psycopg://coprod:rotated@db/coprod")
    assert same != config.beat_key_prefix("postgresql+psycopg://coprod:old@db/staging")
    bare_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    bare_env.setenv("REDBEAT_KEY_PREFIX", "coprod:site-a:redbeat")
    assert config.load(str(tmp_path))["CELERY"]["redbeat_key_prefix"] == "coprod:site-a:redbeat"


def test_embedded_default_beat_keeps_the_standard_scheduler(bare_env, tmp_path):
    celery = config.load(str(tmp_path))["CELERY"]
    assert celery["beat_scheduler"] == "celery.beat:PersistentScheduler"
    assert not any(name.startswith("redbeat_") for name in celery)
    assert beat_arguments(celery) == ["--scheduler", "celery.beat:PersistentScheduler",
                                      "--schedule", str(tmp_path / "celerybeat-schedule")]


def test_visibility_timeout_outlasts_every_countdown_of_every_task(bare_env, tmp_path):
    """A message held longer than the visibility timeout is delivered a second time."""
    bare_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    visibility = config.load(str(tmp_path))["CELERY"]["broker_transport_options"][
        "visibility_timeout"]
    assert visibility > tasks.RETRY_MAX_SECONDS
    assert visibility > tasks.RELAY_GRACE_SECONDS


def test_a_row_that_loses_its_worker_every_time_is_given_up(app, db, outbox):
    """The cap on redeliveries: each attempt is counted before sending, so attempts that
    died with their worker count too; the attempt after the last one fails the row."""
    row = OutboxEmail(key="invitation:1", message_id="<1@coprod.test>",
                      to_address="a@example.org", subject="s", body_text="b",
                      attempts=tasks.MAX_ATTEMPTS)
    db.session.add(row)
    db.session.commit()

    assert tasks.send_outbox_email.run(row.id) == "failed"
    db.session.expire_all()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == tasks.MAX_ATTEMPTS + 1
    assert f"gave up after {tasks.MAX_ATTEMPTS} attempts" in row.last_error
    assert outbox.messages() == []
    assert tasks.send_outbox_email.run(row.id) == "nothing to do"  # a later redelivery


def test_worker_module_builds_one_app_and_task_modules_build_none(tmp_path):
    """Anti-pattern guard: an app created at import in a task module would be a second app
    with its own settings in every worker."""
    probe = (
        "import coprod\n"
        "calls = []\n"
        "original = coprod.create_app\n"
        "coprod.create_app = lambda *a, **k: calls.append(1) or original(*a, **k)\n"
        "import coprod.mail.tasks, coprod.mail.outbox, coprod.celery\n"
        "print('tasks', len(calls))\n"
        "import celery_worker\n"
        "print('worker', len(calls))\n"
        "print('same', celery_worker.app is celery_worker.flask_app.extensions['celery'])\n"
        "print('known', sorted(t for t in celery_worker.app.tasks if t.startswith('coprod')))\n"
    )
    env = {"COPROD_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert out == ["tasks 0", "worker 1", "same True",
                   "known ['coprod.mail.tasks.relay_outbox', "
                   "'coprod.mail.tasks.send_outbox_email']"]
