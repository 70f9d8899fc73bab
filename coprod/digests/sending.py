"""Sending a digest: one email per recipient, each with the figures of the recipient's class.

Coordinators get the digest unless they said no; other members only when they asked for it
(DigestPreference). An email carries headline figures and links, never a word of a reflection
(not even a theme label) and nothing about a citizen: the page behind the link shows the rest,
after logging in. Each email is about "digest:<id>", so the worker asks the policy again at
send time whether the recipient may still read the digest. The key "digest:<id>:<user>" makes
sending twice queue nothing twice. A signed unsubscribe link (also in List-Unsubscribe
headers, RFC 2369 and RFC 8058) stops the digest emails of this collaboration to that member.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from coprod.accounts.models import Role, User
from coprod.common import utcnow
from coprod.digests import readers
from coprod.digests.models import Digest, DigestPreference, DigestStatus
from coprod.digests.reading import headline_of, local_days
from coprod.extensions import db
from coprod.mail.models import OutboxEmail
from coprod.mail.outbox import queue_email
from coprod.mail.unsubscribe import list_unsubscribe_headers
from coprod.spaces.models import Collaboration, Membership

SUBJECT = _l("Learning digest of %(title)s: %(first)s to %(last)s")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="coprod.digest.unsubscribe")


def unsubscribe_token(collaboration_id: int, user_id: int) -> str:
    """Never expires: the link in an old digest must still work."""
    return _serializer().dumps({"c": collaboration_id, "u": user_id})


def unsubscribe_from_token(token: str) -> tuple[int, int] | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not {"c", "u"} <= data.keys():
        return None
    return int(data["c"]), int(data["u"])


def wants_email(membership: Membership, preference: bool | None) -> bool:
    """Coordinators unless they said no; everyone else only if they said yes."""
    if preference is not None:
        return preference
    return membership.role == Role.COORDINATOR


def recipients(collaboration_id: int) -> list[tuple[User, Membership]]:
    """The active members who get this collaboration's digests by email."""
    rows = db.session.execute(
        select(User, Membership, DigestPreference.email)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(DigestPreference, (DigestPreference.user_id == User.id)
                   & (DigestPreference.collaboration_id == Membership.collaboration_id))
        .where(Membership.collaboration_id == collaboration_id, User.is_active.is_(True))
        .order_by(User.id)).all()
    return [(user, seat) for user, seat, preference in rows if wants_email(seat, preference)]


class _Subject:
    """Formatted when the outbox renders it, in the recipient's locale."""

    def __init__(self, title: str, first, last):
        self.title, self.first, self.last = title, first, last

    def __str__(self) -> str:
        return str(SUBJECT) % {"title": self.title, "first": format_date(self.first, "medium"),
                               "last": format_date(self.last, "medium")}


def _links(digest: Digest, user: User) -> dict:
    """Absolute links from BASE_URL: a digest is sent by a worker, outside any request."""
    from coprod.accounts.operations import email_link

    return {
        "digest_link": email_link("digests.show", collaboration_id=digest.collaboration_id,
                                  digest_id=digest.id),
        "digests_link": email_link("digests.index", collaboration_id=digest.collaboration_id),
        "unsubscribe_link": email_link(
            "digests.unsubscribe", token=unsubscribe_token(digest.collaboration_id, user.id)),
    }


def send(digest: Digest) -> int:
    """Mark the digest sent and queue its emails; returns how many were queued now.

    One view per permission class, however many recipients share it.
    """
    collaboration = db.session.get(Collaboration, digest.collaboration_id)
    days = local_days(collaboration, digest.period_start, digest.period_end)
    views: dict[readers.ReaderClass, readers.DigestView] = {}
    already = set(db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key.startswith(f"digest:{digest.id}:"))))
    queued = 0
    for user, seat in recipients(collaboration.id):
        key = f"digest:{digest.id}:{user.id}"
        if key in already:
            continue
        reader = readers.ReaderClass(seat.partner_id, seat.role == Role.COORDINATOR)
        if reader not in views:
            views[reader] = readers.view(digest, reader)
        links = _links(digest, user)
        queue_email(
            key=key, to=user.email, template="digest", locale=user.locale, timezone=user.timezone,
            subject=_Subject(collaboration.title, days.first, days.last),
            recipient=user, about=f"digest:{digest.id}",
            headers=list_unsubscribe_headers(links["unsubscribe_link"]),
            user=user, collaboration=collaboration, period=days,
            figures=headline_of(views[reader]), has_note=bool((digest.note or "").strip()),
            **links)
        queued += 1
    if digest.status != DigestStatus.SENT:
        digest.status, digest.sent_at = DigestStatus.SENT, utcnow()
    db.session.flush()
    return queued
