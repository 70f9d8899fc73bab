"""Which language and time zone a page is rendered in: the user's own, else the browser's."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from flask_login import current_user


def select_locale() -> str | None:
    if not has_request_context():
        return None  # CLI commands and tasks: the default locale, unless force_locale() says
    languages = current_app.config["LANGUAGES"]
    user = g.get("api_user") or current_user
    # A locale saved when a language was still offered must not label English pages with it.
    if getattr(user, "is_authenticated", False) and user.locale in languages:
        return user.locale
    return request.accept_languages.best_match(languages) or "en"


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    user = g.get("api_user") or current_user
    if getattr(user, "is_authenticated", False):
        return user.timezone
    return None
