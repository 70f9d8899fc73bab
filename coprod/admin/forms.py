"""Forms of the admin area (each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice

from coprod.admin.models import CollaborationCreators
from coprod.forms import CoprodForm
from coprod.reflections.forms import CheckboxesField


class CollaborationCreatorsForm(CoprodForm):
    mode = RadioField(_l("Who may start a collaboration"),
                      choices=CollaborationCreators.choices())
    organizations = CheckboxesField(_l("Listed organizations"))

    def fill_choices(self, organizations) -> None:
        self.organizations.choices = [SelectChoice(o.id, o.name) for o in organizations]
