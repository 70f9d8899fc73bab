"""The daily summary: one email per member who chose it, at their chosen local hour.

Beat runs send_daily_summaries() (coprod.routines.tasks) every few minutes. A member whose
local hour (User.timezone) is their summary_hour gets one email listing, as links, their
unread notifications not yet emailed that they may still read; those are then stamped
emailed_at. The outbox key "summary:<user>:<local date>" makes it one email a day however
often the task runs in that hour; what arrives after it waits for the next day's.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_ngettext
from sqlalchemy import exists, select

from coprod import policy
from coprod.accounts.models import EmailPreference, User
from coprod.common import utcnow
from coprod.extensions import db
from coprod.mail.models import OutboxEmail
from coprod.notifications import queries
from coprod.routines.models import Notification, NotificationKind

log = logging.getLogger(__name__)

# The email lists this many links; the counts and the page have the rest.
LISTED_MAX = 50


def _local(now: datetime, timezone: str) -> datetime:
    try:
        return now.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return now.astimezone(ZoneInfo("UTC"))


def send_daily_summaries(now: datetime | None = None) -> int:
    """Queue the summaries due now (flushed, not committed); returns how many were queued."""
    now = now or utcnow()
    waiting = exists().where(Notification.user_id == User.id, Notification.read_at.is_(None),
                             Notification.emailed_at.is_(None))
    users = db.session.scalars(select(User).where(
        User.notify_email == EmailPreference.DAILY, User.is_active, waiting)
        .order_by(User.id)).all()
    queued = 0
    for user in users:
        local = _local(now, user.timezone)
        if local.hour != user.summary_hour:
            continue
        try:
            with db.session.begin_nested():  # one member's failure does not stop the others
                queued += summarize(user, local.date())
        except Exception:
            log.exception("daily summary of user %s failed", user.id)
    return queued


def summarize(user: User, local_day: date) -> bool:
    """Queue this member's summary of `local_day` if there is something and none went yet."""
    from coprod.accounts.operations import email_link
    from coprod.mail.outbox import queue_email
    from coprod.mail.unsubscribe import list_unsubscribe_headers
    from coprod.notifications.links import unsubscribe_link

    key = f"summary:{user.id}:{local_day.isoformat()}"
    if db.session.scalar(select(OutboxEmail.id).where(OutboxEmail.key == key)) is not None:
        return False
    reader = policy.actor_for(user)
    pending = db.session.scalars(queries.visible(reader).where(
        Notification.read_at.is_(None), Notification.emailed_at.is_(None))).all()
    items = queries.describe(reader, pending)
    if not items:
        return False
    counts = Counter(item.kind for item in items)
    unsubscribe = unsubscribe_link(user.id)
    queue_email(key=key, to=user.email, template="notification_summary",
                subject=lazy_ngettext("Coprod: %(num)d new notification",
                                      "Coprod: %(num)d new notifications", len(items)),
                locale=user.locale, timezone=user.timezone, recipient=user,
                items=items[:LISTED_MAX],
                more=max(0, len(items) - LISTED_MAX),
                counts=[(kind, counts[kind]) for kind in NotificationKind if counts[kind]],
                page_link=email_link("notifications.index"),
                settings_link=email_link("accounts.profile") + "#notifications-heading",
                headers=list_unsubscribe_headers(unsubscribe), unsubscribe_link=unsubscribe)
    stamp = utcnow()
    for item in items:
        item.notification.emailed_at = stamp
    db.session.flush()
    return True
