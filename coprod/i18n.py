"""Which language and time zone a page is rendered in: the user's own, else the browser's;
and lazy translations whose interpolated values are escaped when they land in HTML."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from flask_babel import get_domain
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup


def _user():
    """The request's user, unless the database is unreachable (coprod.errors says so on g):
    then the user cannot be read, and an error answer must not try."""
    if g.get("coprod_database_down"):
        return None
    return g.get("api_user") or current_user


def select_locale() -> str | None:
    if not has_request_context():
        return None  # CLI commands and tasks: the default locale, unless force_locale() says
    languages = current_app.config["LANGUAGES"]
    user = _user()
    # A locale saved when a language was still offered must not label English pages with it.
    if getattr(user, "is_authenticated", False) and user.locale in languages:
        return user.locale
    return request.accept_languages.best_match(languages) or "en"


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    user = _user()
    if getattr(user, "is_authenticated", False):
        return user.timezone
    return None


class _EscapingLazyString(LazyString):
    """A translation made when used, like Flask-Babel's LazyString; but where Flask-Babel's
    claims to be HTML as a whole (`__html__`, which WTForms labels, options and errors and
    Jinja trust), this one is HTML only in its translated text: the values interpolated into
    it are escaped, as Jinja's own `_()` does in templates. As a plain str (emails' text,
    subjects, JSON) it is the usual translation."""

    def __init__(self, translate, variables: dict):
        super().__init__(self._plain)
        self._translate, self._variables = translate, variables

    def _plain(self) -> str:
        text = self._translate()
        return text % self._variables if self._variables else text

    def __html__(self) -> Markup:
        text = Markup(self._translate())  # noqa: S704  (the catalog's text, not a user's)
        return text % self._variables if self._variables else text


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's lazy_gettext, its values escaped in HTML: use it for every lazy message
    that interpolates something (a name, an address, a value someone posted)."""
    return _EscapingLazyString(lambda: get_domain().get_translations().ugettext(string),
                               variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables) -> LazyString:
    """Flask-Babel's lazy_ngettext (`num` is interpolated as %(num)d), values escaped in HTML."""
    variables.setdefault("num", num)
    return _EscapingLazyString(
        lambda: get_domain().get_translations().ungettext(singular, plural, num), variables)
