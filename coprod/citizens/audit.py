"""The audit: who read citizen-referencing content, and every change to a citizen's consent.

Append-only: the ORM refuses to change or delete an event or a consent record (and the
database refuses too, by trigger). Reads are noted as they happen, during a request, and
written once at its end:

- every Reflection, Reply or Message the ORM loads (or refreshes) during a request is noted:
  pages and API load content as objects, always through the policy. A session that outlives
  requests (a CLI command, the test client) holds objects already loaded, so a refresh counts
  as a read as well as a load;
- channels that read plain rows (search) call note_reads() themselves; a list that loads one
  row more than it shows (to know there is a next page), or a view that loads an item only
  to check it (the reflection above the API's replies), forgets it (forget_reads);
- a streamed answer (the exports) is read while its body streams, after the request ended:
  it writes its reads itself, as it delivers them (recorded_as_delivered), so a stream that
  fails records what reached the reader before the failure and nothing more;
- when the response shows content, the noted ids are narrowed to those that reference a
  citizen, are not withdrawn and that the actor may read (one query per kind), and one event
  per item is written with the actor's organization and the channel (page, API, export).

A response shows content when it is a page (any method, since a form shown again with its
error shows the page around it) or an API GET, and neither a redirect (the page it leads to
counts its own reads) nor an error answer (errors.py calls forget_noted(): a 404 or 403 page
shows nothing of what was loaded before the refusal). Exports count as the export channel,
by the web or the API.

Background work (digests) calls record_reads() directly with its own channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from flask import Flask, g, has_request_context, request
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from coprod.citizens.models import (
    AuditAction,
    AuditEvent,
    Channel,
    Citizen,
    CitizenReference,
    Consent,
)
from coprod.common import utcnow
from coprod.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")

_NOTED = "coprod_citizen_reads"
_HIDDEN = "coprod_citizen_reads_hidden"
_ERROR = "coprod_citizen_reads_error"
KINDS = ("reflection", "reply", "message")


def record(actor, citizen: Citizen, action: AuditAction, *, object_type: str,
           object_id: int | None = None, channel: Channel | None = None) -> AuditEvent:
    """Add one event (the caller's transaction commits it with the change it tells of).

    A change made during a request is made through a page or the API: that is its channel.
    """
    if channel is None and has_request_context():
        channel = request_channel()
    seat = actor.seat(citizen.collaboration_id) if actor.user_id is not None else None
    event_row = AuditEvent(
        collaboration_id=citizen.collaboration_id, citizen_id=citizen.id,
        user_id=actor.user_id, partner_id=seat.partner_id if seat else None,
        action=action, channel=channel, object_type=object_type, object_id=object_id,
        at=utcnow())
    db.session.add(event_row)
    return event_row


def _model_of(kind: str):
    from coprod.messages.models import Message
    from coprod.reflections.models import Reflection, Reply

    return {"reflection": Reflection, "reply": Reply, "message": Message}[kind]


def _reference_column(kind: str):
    return {"reflection": CitizenReference.reflection_id, "reply": CitizenReference.reply_id,
            "message": CitizenReference.message_id}[kind]


def record_reads(actor, channel: Channel, *, reflections: Iterable[int] = (),
                 replies: Iterable[int] = (), messages: Iterable[int] = ()) -> int:
    """One READ event per citizen-referencing item the actor may read; returns how many."""
    from coprod import policy

    if actor.user_id is None:
        return 0
    written = 0
    for kind, ids in zip(KINDS, (reflections, replies, messages), strict=True):
        model = _model_of(kind)
        ids = sorted(set(ids) - _loaded_without_reference(model, ids))
        if not ids:
            continue
        column = _reference_column(kind)
        readable = select(model.id).where(policy.where(actor, model, "read"))
        if hasattr(model, "withdrawn_at"):  # a withdrawn item shows nothing of what it said
            readable = readable.where(model.withdrawn_at.is_(None))
        rows = db.session.execute(
            select(column, Citizen)
            .join(Citizen, Citizen.id == CitizenReference.citizen_id)
            .select_from(CitizenReference)
            .where(column.in_(ids), column.in_(readable))
        ).all()
        for object_id, citizen in rows:
            record(actor, citizen, AuditAction.READ, object_type=kind, object_id=object_id,
                   channel=channel)
            written += 1
    return written


def _loaded_without_reference(model, ids: Iterable[int]) -> set[int]:
    """The ids whose row this session holds with its citizen reference loaded and empty.

    They mention no citizen, so there is no read to record: most pages show no note about a
    citizen, and asking the database again for each of them cost a query per kind per page.
    Anything not loaded that way is left to the query."""
    found = set()
    for ident in ids:
        obj = db.session.identity_map.get(identity_key(model, ident))
        if obj is not None and "citizen_reference" not in inspect(obj).unloaded \
                and obj.citizen_reference is None:
            found.add(ident)
    return found


def recorded_as_delivered(items: Iterable[T], actor, channel: Channel,
                          read: Callable[[T], dict[str, Iterable[int]]], *,
                          every: int = 500) -> Iterator[T]:
    """Pass a streamed answer's items through, writing the reads of those delivered.

    `read(item)` names what an item shows ({"reflection": ids, "reply": ids, ...}). An item
    counts as delivered once its consumer asks for the next one (it has sent the item on) or
    the items end; its reads are written (record_reads, committed) every `every` items and
    at the end. When the stream fails (the database, or the reader went away), what was
    delivered before is still written, the item in flight is not. The caller's objects are
    never touched: a stream runs after its request's session has gone.
    """
    pending: dict[str, set[int]] = {k: set() for k in KINDS}
    waiting = 0

    def write() -> None:
        nonlocal waiting
        if any(pending.values()) and record_reads(
                actor, channel, reflections=pending["reflection"], replies=pending["reply"],
                messages=pending["message"]):
            db.session.commit()
        for ids in pending.values():
            ids.clear()
        waiting = 0

    try:
        for item in items:
            yield item
            for kind, ids in read(item).items():
                pending[kind].update(ids)
            waiting += 1
            if waiting >= every:
                write()
    except BaseException:
        try:
            db.session.rollback()
            write()
        except Exception:  # the database is gone too: nothing more can be written
            log.exception("could not audit the reads delivered before a stream failed")
        raise
    write()


def note_reads(kind: str, ids: Iterable[int]) -> None:
    """Remember, for this request, that these items were read (written at its end)."""
    if not has_request_context():
        return
    noted = g.setdefault(_NOTED, {k: set() for k in KINDS})
    noted[kind].update(ids)


def forget_reads(kind: str, ids: Iterable[int]) -> None:
    """Items this request loads but does not show (the look-ahead row of a paged list, the
    reflection whose replies the API lists): never written, even when loaded again later
    (the session holds objects weakly, so a lazy load may fetch one a second time)."""
    if has_request_context():
        g.setdefault(_HIDDEN, {k: set() for k in KINDS})[kind].update(ids)


def reads_to_record() -> dict[str, set[int]]:
    """The items this request has shown so far that reference a citizen: what its end would
    record. A page kept to be answered again (coprod.pagecache) notes the same reads each time
    it is answered, and the policy is asked again then; a page that shows no note about a
    citizen (most) costs nothing when answered again. One query per kind with items whose
    reference is not loaded."""
    if not has_request_context():
        return {}
    noted, hidden = g.get(_NOTED) or {}, g.get(_HIDDEN) or {}
    found = {}
    for kind, ids in noted.items():
        ids = ids - hidden.get(kind, set())
        ids -= _loaded_without_reference(_model_of(kind), ids)
        if ids:
            column = _reference_column(kind)
            ids = set(db.session.scalars(select(column).where(column.in_(sorted(ids)))))
        if ids:
            found[kind] = ids
    return found


def forget_noted() -> None:
    """This request answers with an error: it shows none of what it read."""
    if has_request_context():
        setattr(g, _ERROR, True)


def request_channel() -> Channel:
    """Exports by their view's name (web or API), the rest of /api the API, else a page."""
    view = (request.endpoint or "").rpartition(".")[2]
    if "export" in view.lower():
        return Channel.EXPORT
    if request.path.startswith("/api/"):
        return Channel.API
    return Channel.PAGE


def _shows_content(response) -> bool:
    """A page or an API GET that answers with content, not a redirect or an error."""
    if 300 <= response.status_code < 400:
        return False
    if request.path.startswith("/api/"):
        return request.method in ("GET", "HEAD") and response.status_code < 300
    return True


def _write_noted(response):
    """after_request: turn the reads noted during a request that shows them into events."""
    noted, hidden, error = g.pop(_NOTED, None), g.pop(_HIDDEN, {}), g.pop(_ERROR, False)
    if not noted or error or not _shows_content(response):
        return response
    noted = {kind: ids - hidden.get(kind, set()) for kind, ids in noted.items()}
    if not any(noted.values()):
        return response
    from coprod.policy import current_actor

    actor = current_actor()
    if record_reads(actor, request_channel(), reflections=noted["reflection"],
                    replies=noted["reply"], messages=noted["message"]):
        db.session.commit()
    return response


def _noted_on_load(target, context) -> None:
    # The identity, not target.id: a refresh may be filling the attributes in right now.
    note_reads(_KIND_OF_TABLE[target.__tablename__], inspect(target).identity[:1])


def _noted_on_refresh(target, context, attrs) -> None:
    _noted_on_load(target, context)


_KIND_OF_TABLE = {"reflections": "reflection", "replies": "reply", "messages": "message"}


def _refuse_changes(session: Session, flush_context, instances) -> None:
    """Consents and audit events are never changed or removed once written."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, (Consent, AuditEvent)) and (
                obj in session.deleted or session.is_modified(obj, include_collections=False)):
            raise ValueError(f"{type(obj).__name__} records are append-only")


def _write_frictions(session: Session, *args) -> None:
    """After the outermost transaction ends (commit or rollback), write the consent frictions
    noted during it on a connection of its own: the session's connection (and on SQLite its
    write lock) is released by then."""
    if session.in_transaction() and session.get_transaction().parent is not None:
        return
    rows = session.info.pop("coprod_consent_frictions", None)
    if not rows:
        return
    from coprod.citizens.models import ConsentFriction

    # A session of its own on the same bind: a new connection from an engine, or a SAVEPOINT
    # when the bind is a connection already inside a transaction of its caller's.
    with Session(bind=session.get_bind(), join_transaction_mode="create_savepoint") as writer:
        writer.execute(ConsentFriction.__table__.insert(), rows)
        writer.commit()


def install(app: Flask) -> None:
    """Called from create_app(): the load listeners, the end-of-request writer, the guard."""
    from coprod.messages.models import Message
    from coprod.reflections.models import Reflection, Reply

    for model in (Reflection, Reply, Message):
        if not event.contains(model, "load", _noted_on_load):
            event.listen(model, "load", _noted_on_load)
        if not event.contains(model, "refresh", _noted_on_refresh):
            event.listen(model, "refresh", _noted_on_refresh)
    if not event.contains(Session, "before_flush", _refuse_changes):
        event.listen(Session, "before_flush", _refuse_changes)
    for name in ("after_commit", "after_soft_rollback"):
        if not event.contains(Session, name, _write_frictions):
            event.listen(Session, name, _write_frictions)
    app.after_request(_write_noted)
