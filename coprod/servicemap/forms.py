"""Forms of the service map pages. Lengths are checked here for a quick answer; the operations
check everything again (partners of this collaboration, two different partners, ...)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from coprod.forms import CoprodForm
from coprod.reflections.forms import CheckboxesField
from coprod.servicemap.models import CATEGORY_NAME_MAX, DESCRIPTION_MAX, NAME_MAX


def partner_choices(partners) -> list[SelectChoice]:
    """Partners as choices: the id, labelled with the organization's name."""
    return [SelectChoice(p.id, p.name) for p in partners]


class ActivityForm(CoprodForm):
    """An activity: what it is called, what happens, who performs it, with citizens or not."""

    name = StringField(_l("Name of the activity"), validators=[Length(max=NAME_MAX)])
    description = TextAreaField(_l("What happens"), validators=[Length(max=DESCRIPTION_MAX)])
    co_produced = BooleanField(_l("Co-produced with citizens"))
    performers = CheckboxesField(_l("Performed by"))

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.performers.choices = partner_choices(partners)


class CategoryForm(CoprodForm):
    """A category of information the partners exchange."""

    name = StringField(_l("Name of the category"), validators=[Length(max=CATEGORY_NAME_MAX)])
    description = TextAreaField(_l("Description"), validators=[Length(max=DESCRIPTION_MAX)])


class FlowForm(CoprodForm):
    """At an activity: from which partner to which, what categories of information."""

    from_partner_id = SelectField(_l("From"), validate_choice=False)
    to_partner_id = SelectField(_l("To"), validate_choice=False)
    categories = CheckboxesField(_l("Information"))

    def __init__(self, *args, partners=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [SelectChoice("", _l("Choose a partner"))] + [
            SelectChoice(str(c.value), c.label) for c in partner_choices(partners)]
        self.from_partner_id.choices = choices
        self.to_partner_id.choices = choices
        self.categories.choices = [SelectChoice(c.id, c.name) for c in categories]
