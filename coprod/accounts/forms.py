"""Forms of the account pages; every one carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from babel import Locale
from flask import current_app
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, Length

from coprod.forms import CoprodForm

_TZ_EXCLUDED_PREFIXES = ("Etc/", "SystemV/", "US/", "posix", "right", "Factory")


@lru_cache(maxsize=1)
def timezone_choices() -> list[SelectChoice]:
    """Real places (Europe/Copenhagen, ...) plus UTC; aliases and legacy zones left out."""
    names = sorted(
        name for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(_TZ_EXCLUDED_PREFIXES)
    )
    return [SelectChoice("UTC", "UTC")] + [SelectChoice(name, name.replace("_", " "))
                                            for name in names]


def locale_choices() -> list[SelectChoice]:
    """The configured languages, each named in its own language (so a reader finds theirs)."""
    choices = []
    for code in current_app.config["LANGUAGES"]:
        name = Locale.parse(code).get_display_name(code) or code
        choices.append(SelectChoice(code, name[:1].upper() + name[1:]))
    return choices


class LoginForm(CoprodForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))


class LocaleFieldsMixin:
    """Language and time zone selects, their choices filled from the configuration."""

    def fill_choices(self) -> None:
        self.locale.choices = locale_choices()
        self.timezone.choices = timezone_choices()


class SignUpForm(LocaleFieldsMixin, CoprodForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)],
                               render_kw={"autocomplete": "name"})
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(),
                             Length(max=1024)], render_kw={"autocomplete": "new-password"})
    password_confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    locale = SelectField(_l("Language"))
    timezone = SelectField(_l("Time zone"))


class AcceptInvitationForm(CoprodForm):
    """No fields: the button and its CSRF token."""


class ForgotPasswordForm(CoprodForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})


class ResetPasswordForm(CoprodForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    password_confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class ProfileForm(LocaleFieldsMixin, CoprodForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)],
                               render_kw={"autocomplete": "name"})
    locale = SelectField(_l("Language"))
    timezone = SelectField(_l("Time zone"))


class ChangePasswordForm(CoprodForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(_l("New password"), validators=[DataRequired(),
                                 Length(max=1024)], render_kw={"autocomplete": "new-password"})
    new_password_confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(),
                    EqualTo("new_password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class TokenForm(CoprodForm):
    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=80)])
