"""Which language and time zone a page is rendered in: the user's own, else the browser's."""

from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user


def select_locale() -> str | None:
    user = g.get("api_user") or current_user
    if getattr(user, "is_authenticated", False) and user.locale:
        return user.locale
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "en"


def select_timezone() -> str | None:
    user = g.get("api_user") or current_user
    if getattr(user, "is_authenticated", False):
        return user.timezone
    return None
