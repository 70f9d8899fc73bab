"""How the API writes: the answer is made before the commit, and a creating POST may carry an
Idempotency-Key.

Every write (POST, PUT, PATCH, DELETE) runs as one unit (ApiBlueprint wraps each): the view
changes the session and returns its answer, which is serialized at once; then the transaction
commits. Nothing is read after the commit, so a database that drops right after it cannot
turn a stored change into an error answer, which a client would retry.

A POST that creates something (its documented answer is 201) accepts `Idempotency-Key: <1 to
255 visible ASCII characters>`. The first answer of a successful request is stored under the
caller's key, in the transaction that creates, and given again (with `Idempotent-Replayed:
true`) to a request with the same key, method, path and body, for a day: a retry after a lost
answer never creates twice. A replay is a read: the kept answer names the object the request
created, and is given again only while that object is there, not withdrawn, and readable by
the caller through the policy (a withdrawn reflection, a note whose citizen's consent was
withdrawn: 410, the text is not shown again). The same key with another request answers
422; a malformed key 400; a failed request keeps no key, so it may be retried as it is. Two
requests racing with the same key: the second waits for the first's commit and answers its
answer. POST /tokens takes no key: its answer holds the token's secret, which Coprod never
stores.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from functools import wraps

from flask import Response, request
from flask_babel import gettext as _
from flask_smorest import abort
from sqlalchemy import delete, event, inspect, select
from sqlalchemy.exc import IntegrityError

from coprod import policy
from coprod.api.models import IdempotencyKey
from coprod.common import utcnow
from coprod.extensions import db

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
LIFETIME = timedelta(hours=24)
WRITES = ("post", "put", "patch", "delete")
_WELL_FORMED = re.compile(r"[\x21-\x7e]{1,255}")

PARAMETER_DOC = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Makes a retry safe: a repeated request with the same key, method, path and body, "
        "within 24 hours, answers the first answer again (header `Idempotent-Replayed: true`) "
        "instead of creating a second object. The key is the caller's own: any unique string, "
        "e.g. a UUID. The same key with another request answers 422; a key of more than 255 "
        "characters, or other than visible ASCII, 400."),
}


def not_replayable(func):
    """Mark a creating POST that takes no Idempotency-Key (its answer must not be stored)."""
    func.coprod_not_replayable = True
    return func


def creates(func) -> bool:
    """A POST documented as answering 201."""
    return 201 in getattr(func, "_apidoc", {}).get("success_status_codes", ()) and not \
        getattr(func, "coprod_not_replayable", False)


def as_unit(func, *, replayable: bool):
    """The write view `func` (flask-smorest's, answering a Response) made one unit."""
    @wraps(func)
    def unit(*args, **kwargs):
        if replayable and HEADER in request.headers:
            return _replayable(func, args, kwargs)
        response = func(*args, **kwargs)  # serialized here, before the commit
        db.session.commit()
        return response

    if replayable:
        doc = unit._apidoc = dict(getattr(func, "_apidoc", {}))
        manual = doc["manual_doc"] = dict(doc.get("manual_doc", {}))
        manual["parameters"] = [*manual.get("parameters", []), PARAMETER_DOC]
        manual["responses"] = {**manual.get("responses", {}), "400": "BAD_REQUEST",
                               "410": "GONE", "422": "UNPROCESSABLE_ENTITY"}
    return unit


def read_as_stored(view):
    """A write view whose answer is read as stored: flushed and every object expired once the
    view returns, so that the answer is serialized from the database, in the transaction and
    before its commit, as a later read will see it (ordered relationships, a relationship
    whose foreign key changed)."""
    @wraps(view)
    def answer(*args, **kwargs):
        result = view(*args, **kwargs)
        if request.method.lower() in WRITES:
            db.session.flush()
            db.session.expire_all()
        return result

    return answer


def _fingerprint() -> str:
    digest = hashlib.sha256()
    # The query string is part of the request (a dry run is not the real thing); a request
    # without one is fingerprinted as before it counted.
    target = request.path.encode() + (b"?" + request.query_string if request.query_string
                                      else b"")
    for part in (request.method.encode(), target, request.get_data()):
        digest.update(part + b"\0")
    return digest.hexdigest()


def _stored(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))


def _answer(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        abort(422, message=_("This Idempotency-Key was already used for another request. "
                             "Send a new key with a new request."))
    if not _still_shown(stored):
        abort(410, message=_("What this request created was withdrawn since, or is no longer "
                             "yours to read: its answer is not given again."))
    response = Response(stored.body, status=stored.status_code, mimetype="application/json")
    response.headers[REPLAYED] = "true"
    return response


def _replayable(func, args, kwargs) -> Response:
    key = request.headers[HEADER]
    if not _WELL_FORMED.fullmatch(key):
        abort(400, message=_("The Idempotency-Key header must be 1 to 255 visible ASCII "
                             "characters."))
    user_id = policy.current_actor().user_id
    fingerprint = _fingerprint()
    forget_expired()
    stored = _stored(user_id, key)
    if stored is not None:
        answer = _answer(stored, fingerprint)
        db.session.commit()  # the expired keys' removal
        return answer
    response, created = _creating(func, args, kwargs)
    if 200 <= response.status_code < 300:
        body = response.get_data(as_text=True)
        subject_type, subject_id = _subject(body, created)
        db.session.add(IdempotencyKey(
            user_id=user_id, key=key, collaboration_id=kwargs.get("collaboration_id"),
            fingerprint=fingerprint, status_code=response.status_code, body=body,
            subject_type=subject_type, subject_id=subject_id, created_at=utcnow()))
    try:
        db.session.commit()
    except IntegrityError:  # the same key, committed meanwhile by a request racing this one
        db.session.rollback()
        stored = _stored(user_id, key)
        if stored is None:
            raise
        return _answer(stored, fingerprint)
    return response


def _creating(func, args, kwargs) -> tuple[Response, list]:
    """Run the view; its answer and the objects it added, in the order they were added."""
    created: list = []

    def note(session, _flush_context):
        created.extend(session.new)  # still the flushed objects, in after_flush

    session = db.session()
    event.listen(session, "after_flush", note)
    try:
        return func(*args, **kwargs), created
    finally:
        event.remove(session, "after_flush", note)


def _subject(body: str, created: list) -> tuple[str | None, int | None]:
    """The object the answer is about: the first one created whose id the answer gives."""
    try:
        ident = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return None, None
    for obj in created:
        if ident is not None and inspect(obj).identity == (ident,):
            return type(obj).__name__, ident
    return None, None


def _still_shown(stored: IdempotencyKey) -> bool:
    """May the kept answer be given again: is its object there, not withdrawn or erased, and
    readable by the caller now (through the policy, as a GET of it would be)?"""
    if stored.subject_type is None:
        return True  # an answer about no object it created
    model = db.Model.registry._class_registry.get(stored.subject_type)
    subject = db.session.get(model, stored.subject_id) if model is not None else None
    if subject is None or any(getattr(subject, gone, None) is not None
                              for gone in ("withdrawn_at", "erased_at")):
        return False
    try:
        return policy.may(policy.current_actor(), "read", subject)
    except LookupError:  # no rule says who may read it: not shown again
        return False


def forget_expired() -> int:
    """Drop every key older than LIFETIME (on each keyed POST, and hourly by beat: an answer
    is never kept longer than it may be replayed, give or take the hour)."""
    return db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.created_at < utcnow() - LIFETIME)).rowcount


def forget_answers_in(collaboration_id: int) -> None:
    """Drop the stored answers of a collaboration (an erasure must leave none behind)."""
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.collaboration_id == collaboration_id))
