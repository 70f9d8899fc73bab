"""Who is calling the API: the owner of a personal access token, never a login cookie."""

from __future__ import annotations

from flask import g, request
from flask_babel import gettext as _
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from coprod.accounts.auth import user_for_token
from coprod.extensions import db, login_manager

REALM = "Coprod API"


def _bearer_secret() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def _refuse(message: str, error: str | None = None) -> Unauthorized:
    """A 401 whose WWW-Authenticate tells the client to send a bearer token."""
    params = {"realm": REALM}
    if error:
        params["error"] = error  # RFC 6750: tells clients the token itself was refused
    return Unauthorized(description=message,
                        www_authenticate=WWWAuthenticate("bearer", params))


def authenticate() -> None:
    """Before every API request: g.api_user is the token's user, or the request ends in 401.

    Flask-Login's current_user is pinned to the same user (anonymous until the token is
    checked), so a browser's login cookie never stands in for a token, not even in the
    locale selector or an email template.
    """
    g._login_user = login_manager.anonymous_user()  # Flask-Login's per-request user slot
    secret = _bearer_secret()
    if secret is None:
        raise _refuse(_("Send a personal access token: Authorization: Bearer cpd_…"))
    user = user_for_token(secret)
    if user is None:
        raise _refuse(_("This access token is not valid or has been revoked."),
                      error="invalid_token")
    if db.session.dirty:
        db.session.commit()  # keep the token's last_used_at even if the call itself fails
    g.api_user = user
    g._login_user = user
