"""Who the request is: a login session (cookie) or a personal access token (API)."""

from __future__ import annotations

import functools
import hashlib

from flask import Flask, current_app, request, session
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import login_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from coprod import pagecache
from coprod.accounts import sessions
from coprod.accounts.models import ApiToken, User, spend_dummy_hash
from coprod.accounts.operations import find_user_by_email
from coprod.accounts.sessions import LAST_SEEN_RESOLUTION
from coprod.common import utcnow
from coprod.direct import Direct
from coprod.extensions import db, login_manager


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    # The cookies hold User.login_id(): who, and the secret of their server-side log-in.
    login_manager.id_attribute = "login_id"
    login_manager._session_identifier_generator = session_identifier


def session_identifier() -> str:
    """What strong session protection ties a session to: the client address the rate limits
    see (X-Forwarded-For only through ProxyFix, with TRUST_PROXY_HEADERS) and the browser.
    Flask-Login's own reads X-Forwarded-For whoever sent it, so anyone could claim an address."""
    base = f"{get_remote_address()}|{request.headers.get('User-Agent', '')}"
    return hashlib.sha512(base.encode("utf-8", errors="replace")).hexdigest()


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The cookies hold "id:secret" of a log-in row (coprod/accounts/sessions.py): an ended or
    expired log-in, or a deactivated account, answers logged out."""
    return sessions.user_for_login_id(identity)


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials prove (active or not), else None.

    An unknown email costs one password hash like a known one, so timing tells nothing.
    """
    user = find_user_by_email(email)
    if user is None:
        spend_dummy_hash(password)
        return None
    return user if user.check_password(password) else None


def start_session(user: User, remember: bool = False, second_factor: str | None = None) -> None:
    """Log in with a fresh session: nothing from before log-in carries over (no fixation).
    `second_factor` names the factor this log-in passed beyond the first (twofactor.py)."""
    session.clear()
    sessions.open_session(user, remember=remember, second_factor=second_factor)
    login_user(user, remember=remember)
    cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if not remember and cookie in request.cookies:
        session["_remember"] = "clear"  # a remember-me cookie of an earlier log-in goes too
    user.last_login_at = utcnow()


@functools.cache
def _unrevoked_token(page_state: bool):
    """SQL: the unrevoked token of a secret's digest, with its user and their seats
    (policy.actors.seats_column), and with `page_state` what the page cache reads before a
    page (pagecache.with_state). Every API call runs it: built once, with only the digest
    bound each time."""
    from coprod.policy.actors import seats_column

    found = (select(ApiToken, seats_column(ApiToken.user_id))
             .where(ApiToken.token_hash == bindparam("token_hash"),
                    ApiToken.revoked_at.is_(None))
             .options(joinedload(ApiToken.user)))
    if page_state:
        found = pagecache.with_state(found, ApiToken.user_id, ApiToken)
    return found


@functools.cache
def _token_reader():
    """SQL: _unrevoked_token(page_state=True) as plain columns of the tables (a
    sessions.PageReader's), for no ORM object to be made of them; active users only. Every
    kept API answer runs it first: it runs Direct (coprod/direct.py)."""
    from coprod.policy.actors import seats_column

    token, user = ApiToken.__table__, User.__table__
    found = (select(token.c.last_used_at, user.c.id, user.c.locale, user.c.timezone,
                    user.c.is_admin, seats_column(token.c.user_id))
             .join_from(token, user, user.c.id == token.c.user_id)
             .where(token.c.token_hash == bindparam("token_hash"),
                    token.c.revoked_at.is_(None), user.c.is_active.is_(True)))
    return Direct(pagecache.with_state(found, token.c.user_id, token))


def user_for_token(secret: str) -> User | sessions.PageReader | None:
    """The active user owning an unrevoked token with this secret, or None: for a GET of a
    page the cache may answer, as a PageReader (unless the token's last use is due to be
    noted)."""
    if not secret.startswith(ApiToken.PREFIX):
        return None
    page_state = pagecache.wants_state(pages=False)
    if page_state:  # wants_state(pages=False): a kept view's GET
        values = {"token_hash": ApiToken.digest(secret), **pagecache.state_parameters()}
        found = _token_reader().first(db.session.connection(), values)
        if found is None:
            return None
        if found[0] is not None and utcnow() - found[0] < LAST_SEEN_RESOLUTION:
            pagecache.note_state(found[6:])
            return sessions.PageReader(
                user_id=found[1], locale=found[2], timezone=found[3], is_admin=found[4],
                seats=found[5], load=functools.partial(_token_user, secret, False),
                identity=None, current_session=None)
    return _token_user(secret, page_state)


def _token_user(secret: str, page_state: bool) -> User | None:
    """user_for_token() as the ORM's objects, with the page state if asked."""
    values = {"token_hash": ApiToken.digest(secret)}
    if page_state:
        values.update(pagecache.state_parameters())
    found = db.session.execute(_unrevoked_token(page_state), values).first()
    token = found[0] if found is not None else None
    if token is None or not token.user.is_active:
        return None
    if page_state:
        pagecache.note_state(found[2:])
    from coprod.policy.actors import seats_of

    token.user.loaded_seats = seats_of(found[1])
    moment = utcnow()
    # Written at most once a minute, as a log-in's last_seen_at: a script polling the API
    # should not cost a write (and a commit) on every call.
    if token.last_used_at is None or moment - token.last_used_at >= LAST_SEEN_RESOLUTION:
        token.last_used_at = moment
    return token.user
