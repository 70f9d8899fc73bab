"""Celery wired the Flask way: every task runs inside an app context of the same factory."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

# Modules whose @shared_task functions the worker must know; add each feature's tasks.py.
TASK_MODULES = ["coprod.mail.tasks", "coprod.routines.tasks", "coprod.digests.tasks",
                "coprod.api.tasks"]

# Periodic work for `celery -A celery_worker beat`; features add their sweeps here.
BEAT_SCHEDULE = {
    # Rows whose send task never reached the broker (it was down at commit) go out here.
    "relay-outbox": {"task": "coprod.mail.tasks.relay_outbox", "schedule": 60.0},
    # Routines' prompts and nudges (coprod/routines/sweep.py); a sweep is idempotent.
    "run-due-routines": {"task": "coprod.routines.tasks.run_due_routines", "schedule": 60.0},
    # Theme vectors of reflections written or edited lately (coprod/digests/vectors.py).
    "embed-recent-reflections": {"task": "coprod.digests.tasks.embed_recent_reflections",
                                 "schedule": 60.0},
    # Digests of closed periods (coprod/digests/tasks.py); a build is idempotent.
    "sweep-digests": {"task": "coprod.digests.tasks.sweep_digests", "schedule": 300.0},
    # Notification summaries at each member's local hour; once a day each (its outbox key).
    "send-daily-summaries": {"task": "coprod.routines.tasks.send_daily_summaries",
                             "schedule": 300.0},
    # API answers kept for Idempotency-Key retries, dropped after their day.
    "forget-expired-idempotency-keys": {"task": "coprod.api.tasks.forget_expired_keys",
                                        "schedule": 3600.0},
}


def celery_init_app(app: Flask) -> Celery:
    """Build the Celery app of this Flask app (one per create_app, never at import)."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # The context's teardown removes the SQLAlchemy session: no state leaks
            # from one task to the next in a long-lived worker.
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = {**BEAT_SCHEDULE,
                                     **(app.config["CELERY"].get("beat_schedule") or {})}
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
