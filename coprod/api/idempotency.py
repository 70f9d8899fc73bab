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
answer never creates twice. The same key with another request answers 422; a malformed key
400; a failed request keeps no key, so it may be retried as it is. Two requests racing with
the same key: the second waits for the first's commit and answers its answer. POST /tokens
takes no key: its answer holds the token's secret, which Coprod never stores.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from functools import wraps

from flask import Response, request
from flask_babel import gettext as _
from flask_smorest import abort
from sqlalchemy import delete, select
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
                               "422": "UNPROCESSABLE_ENTITY"}
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
    response = func(*args, **kwargs)
    if 200 <= response.status_code < 300:
        db.session.add(IdempotencyKey(
            user_id=user_id, key=key, collaboration_id=kwargs.get("collaboration_id"),
            fingerprint=fingerprint, status_code=response.status_code,
            body=response.get_data(as_text=True), created_at=utcnow()))
    try:
        db.session.commit()
    except IntegrityError:  # the same key, committed meanwhile by a request racing this one
        db.session.rollback()
        stored = _stored(user_id, key)
        if stored is None:
            raise
        return _answer(stored, fingerprint)
    return response


def forget_expired() -> int:
    """Drop every key older than LIFETIME (on each keyed POST, and hourly by beat: an answer
    is never kept longer than it may be replayed, give or take the hour)."""
    return db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.created_at < utcnow() - LIFETIME)).rowcount


def forget_answers_in(collaboration_id: int) -> None:
    """Drop the stored answers of a collaboration (an erasure must leave none behind)."""
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.collaboration_id == collaboration_id))
