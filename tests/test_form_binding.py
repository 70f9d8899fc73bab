"""Forms' fields bound by copying a prototype (coprod.forms.CoprodForm): every form gets the
fields WTForms would bind, each form its own, in the reader's language."""

from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from wtforms import StringField
from wtforms.fields.core import Flags, Label

import coprod
from coprod import forms as coprod_forms
from coprod.citizens.forms import WithdrawForm
from coprod.forms import CoprodForm, bind_field
from coprod.reflections.forms import OptionField, ReflectionForm


def _every_form_class() -> list[type]:
    for module in pkgutil.walk_packages(coprod.__path__, "coprod."):
        importlib.import_module(module.name)
    found, waiting = set(), [CoprodForm]
    while waiting:
        for subclass in waiting.pop().__subclasses__():
            if subclass not in found and subclass.__module__.startswith("coprod."):
                found.add(subclass)
                waiting.append(subclass)
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


FORMS = _every_form_class()


def _made(form_class):
    """A form of the class as a page makes it (a withdrawal needs its consent)."""
    if form_class is WithdrawForm:
        return form_class(consent=SimpleNamespace(partners=[]))
    return form_class()


def _comparable(value):
    """A field's value as something == can compare (WTForms' labels and flags have no ==)."""
    if isinstance(value, Label | Flags):
        return type(value), vars(value)
    return value


def test_every_form_is_a_coprod_form():
    assert len(FORMS) > 40
    assert {f.__name__ for f in FORMS} >= {"ReflectionForm", "ReplyForm", "LoginForm"}


@pytest.mark.parametrize("form_class", FORMS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_a_copied_field_is_the_field_wtforms_binds_and_its_own(app, form_class):
    with app.test_request_context("/", method="POST", data={}):
        form = _made(form_class)
        translations = form.meta.get_translations(form)
        for name, unbound in form_class._unbound_fields:
            options = {"name": unbound.name or name, "prefix": form._prefix,
                       "translations": translations}
            bind_field(form, unbound, options)  # the prototype, if it may have one
            copies = bind_field(form, unbound, options), bind_field(form, unbound, options)
            built = unbound.bind(form=form, **options), unbound.bind(form=form, **options)
            assert type(copies[0]) is type(built[0]), name
            assert vars(copies[0]).keys() == vars(built[0]).keys(), name
            for key, value in vars(built[0]).items():
                assert _comparable(vars(copies[0])[key]) == _comparable(value), (name, key)
                if value is not vars(built[1])[key]:  # each binding makes its own ...
                    assert vars(copies[0])[key] is not vars(copies[1])[key], (name, key)
            assert copies[0]._form is form and copies[0].meta is form.meta


def test_a_reflection_form_is_bound_without_building_its_fields_again(app, monkeypatch):
    """Building fields was a ninth of posting a reflection: later forms copy them."""
    built = []
    original = OptionField.__init__

    def counting(self, *args, **kwargs):
        built.append(kwargs["name"])
        original(self, *args, **kwargs)

    with app.test_request_context("/", method="POST", data={}):
        ReflectionForm()
        monkeypatch.setattr(OptionField, "__init__", counting)
        form = ReflectionForm()
    assert built == []
    assert [c.value for c in form.kind.choices] == ["works", "improve"]


def test_what_one_form_changes_stays_on_that_form(app):
    with app.test_request_context("/", method="POST", data={}):
        first = ReflectionForm()
        label = str(first.narrow.label.text)
        first.offer_narrowing("organization", [])  # "Post it for my organization only"
        first.kind.choices.append(first.kind.choices[0])
        first.kind.flags.required = True
        second = ReflectionForm()
    assert str(first.narrow.label.text) != label
    assert str(second.narrow.label.text) == label
    assert len(second.kind.choices) == 2
    assert second.kind.flags.required is None


def test_a_copied_form_speaks_each_readers_language(app):
    with app.test_request_context("/", method="POST", data={}):
        with force_locale("en"):
            english = ReflectionForm()
            in_english = str(english.kind.label.text), str(english.submit.label.text)
        with force_locale("fi"):
            finnish = ReflectionForm()
            in_finnish = str(finnish.kind.label.text), str(finnish.submit.label.text)
    assert in_english == ("Is it something that works, or that must improve?",
                          "Post the reflection")
    assert in_finnish[1] != in_english[1] and in_finnish[0] != in_english[0]


class Unlabelled(CoprodForm):
    """A field left for WTForms to label: with its name, translated as it is built."""

    count = StringField()


def test_a_field_wtforms_labels_and_the_csrf_field_are_built_for_each_form(app):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        with app.test_request_context("/", method="POST", data={}):
            forms = Unlabelled(), Unlabelled(), ReflectionForm(), ReflectionForm()
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    keys = set(coprod_forms._prototypes)
    assert not [k for k in keys if k[0] is Unlabelled.count]
    assert forms[0].count.label.text == "Count"
    assert forms[2].csrf_token.csrf_impl is not forms[3].csrf_token.csrf_impl
    assert [k for k in keys if k[0] is ReflectionForm.kind]
