"""Periodic work of routines, run by beat (coprod/celery.py BEAT_SCHEDULE) on a worker."""

from __future__ import annotations

import contextlib
import logging

from celery import shared_task
from flask import current_app, has_request_context

from coprod.routines import sweep

log = logging.getLogger(__name__)


def link_context():
    """The emails' links are built with url_for, which needs a request; a worker or a
    command has none, so one is made up at BASE_URL (as coprod.demo does)."""
    if has_request_context():
        return contextlib.nullcontext()
    return current_app.test_request_context("/", base_url=current_app.config["BASE_URL"])


def sweep_now() -> sweep.SweepResult:
    """One sweep of every routine now, logged: the task's and `coprod routines run-due`'s."""
    with link_context():
        result = sweep.run_due()
    level = logging.ERROR if result.errors else logging.INFO
    log.log(level, "routines swept: %s routines, %s prompts, %s nudges, %s errors%s",
            result.routines, result.prompts, result.nudges, len(result.errors),
            "".join(f"\n  {error}" for error in result.errors))
    return result


@shared_task
def run_due_routines() -> dict:
    """One sweep: the due periods' prompts and the due nudges of every routine.

    Safe to run twice (a redelivery, two beats, `coprod routines run-due` at the same time):
    prompts are unique per (routine, period, member) and nudges are stamped once.
    """
    result = sweep_now()
    return {"routines": result.routines, "prompts": result.prompts, "nudges": result.nudges,
            "errors": len(result.errors)}


@shared_task
def send_daily_summaries() -> int:
    """Queue the daily notification summaries due this hour (coprod/notifications/summary.py).

    Safe to run as often as beat likes: one summary per member and local day (its outbox key),
    and each notification is summarized once (emailed_at).
    """
    from coprod.extensions import db
    from coprod.notifications.summary import send_daily_summaries as due_summaries

    queued = due_summaries()
    db.session.commit()
    log.info("daily summaries queued: %s", queued)
    return queued
