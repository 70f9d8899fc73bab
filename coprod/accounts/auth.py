"""Who the request is: a login session (cookie) or a personal access token (API)."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from sqlalchemy import select

from coprod.accounts.models import ApiToken, User, spend_dummy_hash
from coprod.accounts.operations import find_user_by_email
from coprod.common import utcnow
from coprod.extensions import db, login_manager


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The cookie holds "id:nonce"; a changed nonce (new password, log out everywhere) ends it."""
    user_id, _, nonce = identity.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_nonce != nonce:
        return None
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user these credentials prove (active or not), else None.

    An unknown email costs one password hash like a known one, so timing tells nothing.
    """
    user = find_user_by_email(email)
    if user is None:
        spend_dummy_hash(password)
        return None
    return user if user.check_password(password) else None


def start_session(user: User, remember: bool = False) -> None:
    """Log in with a fresh session: nothing from before log-in carries over (no fixation)."""
    session.clear()
    login_user(user, remember=remember)
    cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    if not remember and cookie in request.cookies:
        session["_remember"] = "clear"  # a remember-me cookie of an earlier log-in goes too
    user.last_login_at = utcnow()


def user_for_token(secret: str) -> User | None:
    """The active user owning an unrevoked token with this secret, or None."""
    if not secret.startswith(ApiToken.PREFIX):
        return None
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == ApiToken.digest(secret), ApiToken.revoked_at.is_(None)
        )
    )
    if token is None or not token.user.is_active:
        return None
    token.last_used_at = utcnow()
    return token.user
