"""Celery wired the Flask way: every task runs inside an app context of the same factory."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = {
        "relay-outbox": {"task": "coprod.mail.tasks.relay_outbox", "schedule": 60.0},
    }
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
