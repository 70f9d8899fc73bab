"""The one-click unsubscribe of notification emails (each one, and the daily summary).

Every notification email carries a signed link naming its member, also as List-Unsubscribe
headers (RFC 2369, RFC 8058). It needs no session. Opening it changes nothing: the page asks
for a click. The POST turns the member's notification emails off (the notifications stay on
the site); a mail provider's one-click POST ("List-Unsubscribe=One-Click") carries no CSRF
token and needs none, the page's own form does.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from itsdangerous import BadSignature, URLSafeSerializer

from coprod.accounts.models import EmailPreference, User
from coprod.extensions import csrf, db
from coprod.mail.unsubscribe import Subscription, unsubscribe_page

bp = Blueprint("notification_links", __name__)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"],
                             salt="coprod.notifications.unsubscribe")


def unsubscribe_token(user_id: int) -> str:
    """Never expires: the link in an old email must still work."""
    return _serializer().dumps({"u": user_id})


def user_from_token(token: str) -> User | None:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return db.session.get(User, data["u"])


def unsubscribe_link(user_id: int) -> str:
    from coprod.accounts.operations import email_link

    return email_link("notification_links.unsubscribe", token=unsubscribe_token(user_id))


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked below, except for the one-click POST, which the token authenticates
def unsubscribe(token: str):
    """GET shows the button; POST turns the member's notification emails off."""
    return unsubscribe_page(token, _subscription)


def _subscription(token: str) -> Subscription | None:
    user = user_from_token(token)
    if user is None:
        return None

    def turn_off():
        user.notify_email = EmailPreference.OFF

    return Subscription("notifications/unsubscribe.html", turn_off=turn_off,
                        is_off=lambda: user.notify_email == EmailPreference.OFF)
