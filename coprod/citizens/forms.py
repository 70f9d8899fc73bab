"""Forms of the staff pages for citizens and consent. Lengths and user accounts (typed as email
addresses) are checked here for a quick answer next to the field; the operations check
everything again (activities and partners of this collaboration, a guardian's name, ...)."""

from __future__ import annotations

import re

from wtforms import DateField, HiddenField, SelectChoice, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from coprod.accounts.operations import find_user_by_email
from coprod.citizens.models import (
    DETAILS_MAX,
    NAME_MAX,
    PSEUDONYM_MAX,
    PURPOSE_MAX,
    ConsentGiver,
    ConsentMethod,
)
from coprod.forms import CoprodForm
from coprod.i18n import lazy_gettext as _l
from coprod.reflections.forms import CheckboxesField, OfferedSelect, OptionField

EMAIL_MAX = 254
EMAILS_MAX = 2000

GIVER_HELP = {
    ConsentGiver.CITIZEN: _l("The citizen gave it themself."),
    ConsentGiver.GUARDIAN: _l("A guardian gave it for the citizen: write their name below."),
}


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


def _unknown(address: str) -> ValidationError:
    return ValidationError(_l("No user account has the email address “%(email)s”.",
                              email=address[:80]))


class CitizenForm(CoprodForm):
    """A citizen: the pseudonym everyone who may know of them sees, the name and details only
    some see, their service (activities of the map), and the user accounts that act for them."""

    pseudonym = StringField(_l("Pseudonym"), filters=[_stripped],
                            validators=[Length(max=PSEUDONYM_MAX)])
    name = StringField(_l("Name"), filters=[_stripped], validators=[Length(max=NAME_MAX)])
    details = TextAreaField(_l("Details"), filters=[_stripped],
                            validators=[Length(max=DETAILS_MAX)])
    activities = CheckboxesField(_l("Their service: the activities they take part in"))
    user_email = StringField(_l("The citizen's own user account (email address, optional)"),
                             filters=[_stripped], validators=[Length(max=EMAIL_MAX)])
    guardian_emails = TextAreaField(
        _l("Guardians' user accounts (email addresses, one a line, optional)"),
        filters=[_stripped], validators=[Length(max=EMAILS_MAX)])

    def __init__(self, *args, activities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.activities.choices = [SelectChoice(a.id, f"{a.position}. {a.name}")
                                   for a in activities]
        self.user_id: int | None = None
        self.guardian_ids: list[int] = []

    def fill_from(self, citizen) -> None:
        """The form as the citizen's record stands (for the edit page)."""
        self.pseudonym.data = citizen.pseudonym
        self.name.data = citizen.name or ""
        self.details.data = citizen.details
        self.activities.data = [a.id for a in citizen.activities]
        self.user_email.data = citizen.user.email if citizen.user else ""
        self.guardian_emails.data = "\n".join(u.email for u in citizen.guardians)

    def validate_user_email(self, field):
        self.user_id = None
        if field.data:
            user = find_user_by_email(field.data)
            if user is None:
                raise _unknown(field.data)
            self.user_id = user.id

    def validate_guardian_emails(self, field):
        self.guardian_ids = []
        for address in re.split(r"[\s,;]+", field.data or ""):
            if not address:
                continue
            user = find_user_by_email(address)
            if user is None:
                raise _unknown(address)
            if user.id not in self.guardian_ids:
                self.guardian_ids.append(user.id)

    def citizen_data(self) -> dict:
        return {"pseudonym": self.pseudonym.data, "name": self.name.data,
                "details": self.details.data, "activity_ids": self.activities.data,
                "user_id": self.user_id, "guardian_ids": self.guardian_ids}


# The operations' names for fields this form names otherwise.
CITIZEN_ALIASES = {"user": "user_email", "guardians": "guardian_emails"}


class GiverFields:
    """Who gave (or withdrew) a consent and how, as staff record it on their behalf."""

    given_by = OptionField(_l("Given by"), enum=ConsentGiver, explanations=GIVER_HELP,
                           default=ConsentGiver.CITIZEN.value)
    given_by_name = StringField(_l("The guardian's name"), filters=[_stripped],
                                validators=[Length(max=NAME_MAX)])
    method = OptionField(_l("How"), enum=ConsentMethod, default=ConsentMethod.IN_PERSON.value)

    def giver_data(self) -> dict:
        return {"given_by": self.given_by.data, "given_by_name": self.given_by_name.data,
                "method": self.method.data}


class ConsentForm(GiverFields, CoprodForm):
    """A consent, or a change to one (`replaces`): which partners may receive which categories
    of information, for what purpose, over which local days."""

    partners = CheckboxesField(_l("Partner organizations that may receive it"))
    categories = CheckboxesField(_l("Categories of information"))
    purpose = TextAreaField(_l("Purpose"), filters=[_stripped],
                            validators=[Length(max=PURPOSE_MAX)])
    starts_on = DateField(_l("From (date)"), validators=[Optional()])
    ends_on = DateField(_l("Until (date, optional; the day included)"), validators=[Optional()])
    replaces = HiddenField("")  # labelled: see coprod/reflections/forms.py, `prompt`

    def __init__(self, *args, partners=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.partners.choices = [SelectChoice(p.id, p.name) for p in partners]
        self.categories.choices = [SelectChoice(c.id, c.name) for c in categories]

    def consent_data(self) -> dict:
        return {"partner_ids": self.partners.data, "category_ids": self.categories.data,
                "purpose": self.purpose.data, "starts_on": self.starts_on.data,
                "ends_on": self.ends_on.data, **self.giver_data()}


class WithdrawForm(GiverFields, CoprodForm):
    """Withdraw a consent on the citizen's behalf, wholly or for one of its partners."""

    partner = OfferedSelect(_l("Withdraw"))

    def __init__(self, *args, consent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner.choices = [SelectChoice("", _l("The whole consent"))] + [
            SelectChoice(str(p.id), _l("Only for %(name)s", name=p.name))
            for p in consent.partners]

    def partner_id(self) -> int | None:
        return int(self.partner.data) if self.partner.data else None


class EraseForm(CoprodForm):
    """Erasure cannot be undone: the pseudonym is typed again to confirm."""

    confirm = StringField(_l("Type the pseudonym to confirm"), filters=[_stripped],
                          validators=[Length(max=PSEUDONYM_MAX)])
