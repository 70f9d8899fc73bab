"""The email preference form on the profile page (CSRF by Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, SelectField

from coprod.accounts.models import EmailPreference
from coprod.forms import CoprodForm
from coprod.notifications.operations import HOURS


def hour_choices() -> list[SelectChoice]:
    return [SelectChoice(h, f"{h:02d}:00") for h in HOURS]


class PreferencesForm(CoprodForm):
    notify_email = RadioField(_l("Emails about notifications"),
                              choices=EmailPreference.choices())
    summary_hour = SelectField(_l("Send the daily summary at"), coerce=int,
                               choices=hour_choices())
