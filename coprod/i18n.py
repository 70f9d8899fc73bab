"""Which language and time zone a page is rendered in: the user's own, else the browser's;
one way to show a moment (format_instant, the `instant` filter) in the reader's language and
time zone; and lazy translations whose interpolated values are escaped when they land in HTML.

Emails are rendered in their recipient's language and time zone (force_locale and
force_timezone, coprod.mail.outbox.queue_email); days that belong to a collaboration (feed
filters, digest periods, consents) are read in the collaboration's time zone
(Collaboration.timezone, chosen in its settings).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, dates, support
from flask import current_app, g, has_request_context, request
from flask_babel import get_domain, get_locale, refresh, to_user_timezone
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import Markup

from coprod.config import TRANSLATIONS_DIR


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


_FORCED_TIMEZONE = "coprod_forced_timezone"


def select_timezone() -> str | None:
    forced = g.get(_FORCED_TIMEZONE) if g else None
    if forced:
        return forced
    if not has_request_context():
        return None
    user = _user()
    if getattr(user, "is_authenticated", False):
        return user.timezone
    return None


@contextmanager
def force_timezone(name: str | None) -> Iterator[None]:
    """Format moments in this time zone meanwhile (an email in its recipient's zone), as
    flask_babel.force_locale does for the language. Enter it outside force_locale: switching
    the zone refreshes what Flask-Babel has cached for the request, the locale included."""
    if not g or not name:
        yield
        return
    before = g.get(_FORCED_TIMEZONE)
    setattr(g, _FORCED_TIMEZONE, name)
    refresh()
    try:
        yield
    finally:
        setattr(g, _FORCED_TIMEZONE, before)
        refresh()


# -- the request's catalog --------------------------------------------------------------------

_NO_TRANSLATIONS = support.NullTranslations()


def translations() -> support.NullTranslations:
    """The catalog of the request's language, kept on `g` with the locale it is of: when
    force_locale() or refresh() gives the request another locale, the catalog is looked up
    again. Flask-Babel's own gettext looks up the domain, the locale's name and its catalog
    cache at every call (a search page makes about fifty)."""
    if not g:
        return _NO_TRANSLATIONS
    locale = get_locale()
    kept = g.get("coprod_catalog")
    if kept is None or kept[0] is not locale:
        kept = g.coprod_catalog = (locale, get_domain().get_translations())
    return kept[1]


def install_translations(app) -> None:
    """Templates' _(), gettext and ngettext read translations(); the rest is Flask-Babel's
    (its Jinja i18n extension, newstyle: values escaped, %(name)s interpolated)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)


# -- moments ----------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _instant_patterns(locale: Locale) -> tuple[str, dates.DateTimePattern, dates.DateTimePattern]:
    """A language's medium date-and-time pattern ("{1}, {0}"), short time and medium date,
    looked up and parsed once (Babel looks them up in the locale's data at every call)."""
    return (dates.get_datetime_format("medium", locale=locale).replace("'", ""),
            dates.parse_pattern(dates.get_time_format("short", locale=locale)),
            dates.parse_pattern(dates.get_date_format("medium", locale=locale)))


def format_instant(value: datetime | None, zone: str | None = None) -> str:
    """A moment as every page and email shows it: the medium date and short time of the
    reader's language ("Dec 3, 2026, 5:43 AM", "3. dec. 2026 05.43", "3.12.2026 6.43"), in
    the reader's time zone (User.timezone; an email's recipient's) or in `zone`. Never the
    ambiguous short date ("12/3/26"), never seconds."""
    if value is None:
        return ""
    locale = get_locale() or Locale.parse(current_app.config["BABEL_DEFAULT_LOCALE"])
    if value.tzinfo is None:  # SQLite gives naive UTC
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(ZoneInfo(zone)) if zone else to_user_timezone(value)
    pattern, time_pattern, date_pattern = _instant_patterns(locale)
    return (pattern.replace("{0}", time_pattern.apply(local.timetz(), locale,
                                                      reference_date=local.date()))
            .replace("{1}", date_pattern.apply(local.date(), locale)))


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
    return _EscapingLazyString(lambda: translations().ugettext(string), variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables) -> LazyString:
    """Flask-Babel's lazy_ngettext (`num` is interpolated as %(num)d), values escaped in HTML."""
    variables.setdefault("num", num)
    return _EscapingLazyString(
        lambda: translations().ungettext(singular, plural, num), variables)


@lru_cache(maxsize=256)
def _translated(code: str, message: str) -> str:
    translations = support.Translations.load(str(TRANSLATIONS_DIR), [code], domain="messages")
    return translations.ugettext(message)


def in_every_language(message: str) -> set[str]:
    """The message as every offered language shows it (English included): for recognising
    a text that came back from a form in the language it was shown in."""
    return {message} | {_translated(code, message)
                        for code in current_app.config["LANGUAGES"] if code != "en"}
