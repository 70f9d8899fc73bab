"""Periodic work of the API, run by beat (coprod/celery.py BEAT_SCHEDULE) on a worker."""

from __future__ import annotations

import logging

from celery import shared_task

from coprod.api import idempotency
from coprod.extensions import db

log = logging.getLogger(__name__)


@shared_task(name="coprod.api.tasks.forget_expired_keys")
def forget_expired_keys() -> int:
    """Drop the Idempotency-Key answers older than a day; how many went."""
    dropped = idempotency.forget_expired()
    db.session.commit()
    log.info("idempotency keys dropped: %s", dropped)
    return dropped
