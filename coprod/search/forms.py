"""The search form, sent with GET (nothing changes, so no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Form, SearchField
from wtforms.validators import Length

from coprod.search.queries import QUERY_MAX


def _stripped(value):
    return " ".join(value.split()) if isinstance(value, str) else value


class SearchForm(Form):
    q = SearchField(_l("Search reflections, replies and messages"), filters=[_stripped],
                    validators=[Length(max=QUERY_MAX, message=_l(
                        "Keep your search under %(max)d characters."))])
    everywhere = BooleanField(_l("In all my collaborations"))
