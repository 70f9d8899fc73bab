"""App-wide web pieces: one commit per page write, the session cookie, security headers,
template helpers and the health check."""

from __future__ import annotations

import copy
import logging
import time
from functools import wraps
from typing import NamedTuple

from flask import Flask, current_app, jsonify, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer
from sqlalchemy import text

from coprod.extensions import csrf, db

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def register(app: Flask) -> None:
    app.session_interface = CookieSession()
    app.after_request(_security_headers)
    app.add_url_rule("/healthz", "healthz", healthz)
    csrf.exempt("coprod.web.healthz")
    for endpoint in _page_endpoints(app):
        app.view_functions[endpoint] = commits_once(app.view_functions[endpoint])

    @app.context_processor
    def helpers():
        from flask_babel import get_locale

        from coprod import policy

        return {
            "may": lambda action, obj: policy.may(policy.current_actor(), action, obj),
            "get_locale": get_locale,  # base.html: <html lang> follows the user's locale
        }


# -- the session cookie ------------------------------------------------------------------------

class _UncompressedSerializer(URLSafeTimedSerializer):
    """itsdangerous' URL-safe timed serializer, its payload not tried with zlib: a compressor
    set up for every cookie written made writing it a third dearer (27 µs against 20), to
    save a few dozen bytes of a cookie of a few hundred. It reads compressed
    payloads (cookies set before) as it always did."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


VERIFIED_COOKIES_MAX = 4096  # cookies a worker remembers as verified (a few hundred bytes each)
# Values a request cannot change in place: a session holding only these is handed out as a
# copy of the remembered dict instead of decoded from its JSON again (log-in, CSRF secret).
_UNCHANGEABLE = (str, int, float, bool, bytes, type(None))


class _Verified(NamedTuple):
    """A session cookie whose signature held, as a worker remembers it."""

    serializer: URLSafeTimedSerializer  # the one that checked it (a key change forgets it)
    payload: bytes  # the contents' text, decoded for each request
    signed_at: int  # whole seconds, as itsdangerous compares them
    contents: dict | None  # the decoded contents, when they hold only _UNCHANGEABLE values


class CookieSession(SecureCookieSessionInterface):
    """Flask's signed-cookie session, written without compression (_UncompressedSerializer)
    by a serializer made once per secret key rather than twice per request (when opened,
    when saved). Secret-key rotation (SECRET_KEY_FALLBACKS) works as in Flask.

    A browser sends the same cookie with request after request until the session changes:
    its signature is checked the first time, and the cookie remembered with its contents'
    text and the time it was signed (checking it was 2 % of a post). A remembered
    cookie is read from that text anew for each request (its contents are the request's own
    to change), or copied from its contents as decoded when they hold no list or dict that a
    request could change in place (decoding was 2 % of a page answered from the page cache),
    and is refused once older than the session's lifetime, as Flask refuses it;
    a change of the secret keys forgets every cookie checked with the old ones."""

    def __init__(self):
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}
        self._verified: dict[str, _Verified] = {}

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if serializer is None or not value:
            return super().open_session(app, request)
        lifetime = app.permanent_session_lifetime.total_seconds()
        verified = self._verified.get(value)
        if verified is None or verified.serializer is not serializer:
            verified = self._verify(serializer, value, lifetime)
            if verified is None:
                return self.session_class()
        if int(time.time()) - verified.signed_at > int(lifetime):  # as itsdangerous does
            self._verified.pop(value, None)
            return self.session_class()
        if verified.contents is not None:  # only unchangeable values: a copy will do
            return self.session_class(verified.contents)
        return self.session_class(serializer.load_payload(verified.payload))

    def _verify(self, serializer: URLSafeTimedSerializer, value: str,
                lifetime: float) -> _Verified | None:
        """A cookie whose signature holds, remembered; None for any other."""
        try:
            contents, signed_at = serializer.loads(value, max_age=int(lifetime),
                                                   return_timestamp=True)
        except BadSignature:
            return None
        payload = value.encode().rsplit(b".", 2)[0]  # payload.timestamp.signature
        if len(self._verified) >= VERIFIED_COOKIES_MAX:
            self._verified.clear()
        kept = contents if isinstance(contents, dict) and all(
            isinstance(v, _UNCHANGEABLE) for v in contents.values()) else None
        verified = self._verified[value] = _Verified(serializer, payload,
                                                     int(signed_at.timestamp()), kept)
        return verified

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # current last
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = _UncompressedSerializer(
                list(keys), salt=self.salt, serializer=self.serializer,
                signer_kwargs={"key_derivation": self.key_derivation,
                               "digest_method": self.digest_method})
        return serializer


# -- one commit per page write ---------------------------------------------------------------
#
# A page that writes answers from what its request loaded, before the commit, and commits last:
# once the change is stored nothing is read any more (a commit expires every loaded object,
# and reading one again needs the database). So a database that drops right after the commit
# cannot turn a stored change into the 503 "try again" page, which the user would post again.
# The API does the same (coprod.api.idempotency.as_unit); views and coprod.forms.attempt()
# flush, never commit.

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def commits_once(view):
    """The page view `view` made one unit: its answer is made (rendered, or a redirect with
    its flashed messages), then its transaction commits. When the view or the commit fails,
    the browser's session is left as it came (no "Your reply is posted" waiting for the next
    page, no log-in the database never stored)."""
    @wraps(view)
    def unit(*args, **kwargs):
        if request.method not in WRITES:
            return view(*args, **kwargs)
        before = copy.deepcopy(dict(session))
        try:
            response = current_app.make_response(view(*args, **kwargs))
            db.session.commit()
        except BaseException:
            if dict(session) != before:
                session.clear()
                session.update(before)
            raise
        return response

    return unit


def _page_endpoints(app: Flask) -> list[str]:
    """The endpoints of pages that take a write (the API's views are units of their own)."""
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()
                   if set(rule.methods or ()) & set(WRITES)
                   and not rule.rule.startswith("/api/")})


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
HTTPS_ONLY = (("Strict-Transport-Security", "max-age=31536000"),)


def _security_headers(response):
    """Every answer's security headers, except one its view set itself. Werkzeug's
    setdefault() reads all of an answer's headers for each header it adds; the names
    present are read once here and the missing headers added together."""
    wanted = SECURITY_HEADERS + (HTTPS_ONLY if current_app.config["SESSION_COOKIE_SECURE"]
                                 else ())
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend([(name, value) for name, value in wanted
                             if name.lower() not in present])
    return response


# Seconds the broker probe may take: a load balancer polls /healthz and must get an answer
# quickly while Redis is down.
BROKER_CHECK_TIMEOUT = 2


def _database_state() -> str:
    """Does the database answer a trivial query? The session is left clean either way."""
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any driver error means the same to a load balancer
        log.warning("health check: database unreachable: %s", exc)
        return "unavailable"
    finally:
        db.session.rollback()


def _broker_state() -> str:
    """Does one connection to the broker open within BROKER_CHECK_TIMEOUT (no retries)?"""
    celery_app = current_app.extensions["celery"]
    options = {}
    if str(celery_app.conf.broker_url).startswith(("redis://", "rediss://")):
        # Kombu's SQLAlchemy transport hands its options to create_engine(): Redis only.
        options = {"socket_connect_timeout": BROKER_CHECK_TIMEOUT,
                   "socket_timeout": BROKER_CHECK_TIMEOUT}
    try:
        with celery_app.connection_for_write(connect_timeout=BROKER_CHECK_TIMEOUT,
                                             transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_CHECK_TIMEOUT)
        return "ok"
    except Exception as exc:
        log.warning("health check: broker unreachable: %s", exc)
        return "unavailable"


def healthz():
    """200 while the database answers (the broker's state is reported, not required)."""
    database = _database_state()
    broker = _broker_state()
    body = {"status": "ok" if database == "ok" else "unavailable",
            "database": database, "broker": broker}
    response = jsonify(body)
    response.status_code = 200 if database == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
