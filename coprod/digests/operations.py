"""Writes to digests: coordinators set the cadence and review, note and send a digest; any
member chooses whether they get digests by email.

Each function takes the acting Actor first, asks the policy, validates, changes the session and
flushes; the caller commits once. Refusals are OperationError naming the field at fault.
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from coprod import policy
from coprod.common import OperationError, utcnow
from coprod.digests import periods, sending
from coprod.digests.models import (
    Digest,
    DigestCadence,
    DigestPreference,
    DigestSettings,
    DigestStatus,
)
from coprod.extensions import db
from coprod.policy import Actor
from coprod.routines.operations import clean_anchor
from coprod.spaces.models import Collaboration

NOTE_MAX = 5000
_UNSET = object()


def update_settings(actor: Actor, collaboration: Collaboration, *, cadence=_UNSET,
                    anchor_on=_UNSET, send_automatically=_UNSET) -> DigestSettings:
    """Change the cadence, the first day of the periods or how digests go out (fields left
    out stay). Digests already built keep their periods."""
    policy.require(actor, "digest_settings", collaboration)
    current = periods.settings_of(collaboration)
    if cadence is not _UNSET:
        try:
            cadence = DigestCadence(cadence)
        except ValueError:
            raise OperationError(_("Choose weekly, every two weeks or monthly."),
                                 field="cadence") from None
    if anchor_on is not _UNSET and not isinstance(anchor_on, date):
        raise OperationError(_("Give the first day of the periods as a date."),
                             field="anchor_on")
    if anchor_on is not _UNSET and anchor_on != current.anchor_on:
        # Every period since the anchor is built: not from 1900, nor from far ahead.
        anchor_on = clean_anchor(anchor_on, collaboration.timezone or "UTC")
    stored = db.session.get(DigestSettings, collaboration.id)
    if stored is None:
        stored = DigestSettings(collaboration_id=collaboration.id, cadence=current.cadence,
                                anchor_on=current.anchor_on,
                                send_automatically=current.send_automatically)
        db.session.add(stored)
    if cadence is not _UNSET:
        stored.cadence = cadence
    if anchor_on is not _UNSET:
        stored.anchor_on = anchor_on
    if send_automatically is not _UNSET:
        stored.send_automatically = bool(send_automatically)
    stored.updated_at = utcnow()
    db.session.flush()
    return stored


def clean_note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise OperationError(_("Keep the note under %(n)d characters.", n=NOTE_MAX),
                             field="note")
    return text


def save_note(actor: Actor, digest: Digest, note: str | None) -> Digest:
    """A coordinator's note on a digest that waits for review."""
    policy.require(actor, "review", digest)
    if digest.status == DigestStatus.SENT:
        raise OperationError(_("This digest has already been sent; its note can no longer "
                               "change."), field="note", status=409)
    digest.note = clean_note(note)
    digest.note_by_id = actor.user_id
    db.session.flush()
    return digest


def send_digest(actor: Actor, digest: Digest, note: str | None = None) -> Digest:
    """Review done: keep the note (if given) and send the digest to its recipients."""
    if note is not None:
        save_note(actor, digest, note)
    policy.require(actor, "review", digest)
    if digest.status == DigestStatus.SENT:
        raise OperationError(_("This digest has already been sent."), status=409)
    sending.send(digest)
    return digest


def set_email(actor: Actor, collaboration: Collaboration, email: bool) -> DigestPreference:
    """Whether this member gets the collaboration's digests by email."""
    policy.require(actor, "read_digests", collaboration)
    return store_preference(collaboration.id, actor.user_id, email)


def store_preference(collaboration_id: int, user_id: int, email: bool) -> DigestPreference:
    """Record the choice once, however many clicks (or a mail provider's one-click POSTs)
    arrive together; also used by the signed unsubscribe link, which has no session."""
    name = db.session.get_bind().dialect.name
    insert = postgresql.insert if name == "postgresql" else sqlite.insert
    values = {"email": bool(email), "updated_at": utcnow()}
    db.session.execute(
        insert(DigestPreference).values(collaboration_id=collaboration_id, user_id=user_id,
                                        **values)
        .on_conflict_do_update(index_elements=["collaboration_id", "user_id"], set_=values))
    db.session.flush()
    found = db.session.get(DigestPreference, (collaboration_id, user_id))
    db.session.refresh(found)
    return found


def gets_email(actor: Actor, collaboration: Collaboration) -> bool:
    """Whether the member gets the digests by email now (their choice or the default)."""
    seat = actor.seat(collaboration.id)
    if seat is None:
        return False
    found = db.session.get(DigestPreference, (collaboration.id, actor.user_id))
    return sending.wants_email(seat, found.email if found is not None else None)
