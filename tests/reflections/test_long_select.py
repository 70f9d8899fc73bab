"""The selects of Coprod's forms write their options themselves (forms.LongSelect), faster
than WTForms' own widget: the HTML must be WTForms', option for option, escaping included."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, widgets
from wtforms.fields.choices import SelectChoice

from coprod.reflections.forms import LongSelect, OfferedSelect

CHOICES = [
    SelectChoice("", "No citizen"),
    SelectChoice("1", 'Anna "the <b>bold</b>" & Co'),
    SelectChoice("2", "Ærø Åse Østergård"),
    SelectChoice("3", ""),  # no label: the value shows
    SelectChoice(True, "A boolean value"),
    SelectChoice("5", "With attributes", render_kw={"disabled": True, "data_x": "y\""}),
]


class _Form(Form):
    citizen = OfferedSelect("About a citizen", choices=CHOICES, default="")


@pytest.mark.parametrize("chosen", ["", "1", "2", "3", "True", "5", "not offered"])
def test_a_long_select_writes_what_wtforms_writes(chosen):
    field = _Form(MultiDict({"citizen": chosen})).citizen
    assert isinstance(field.widget, LongSelect)
    ours = field(class_="wide")
    theirs = widgets.Select()(field, class_="wide")
    assert str(ours) == str(theirs)
    assert "<b>" not in str(ours) and "&lt;b&gt;" in str(ours)
