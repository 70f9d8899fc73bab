"""Form helpers every blueprint shares: the forms' base class, and an operation's refusal
shown where the user looks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from flask_wtf import FlaskForm
from wtforms.fields.core import Flags, Label
from wtforms.validators import ValidationError

from coprod.common import OperationError
from coprod.extensions import db
from coprod.mail import addresses

# Field values that are the same object in every binding, or that cannot change: a copied
# field may share them with its prototype.
_IMMUTABLE = (str, int, float, bool, tuple, frozenset, type(None))
_PROTOTYPES_MAX = 4096  # (field, prefix) pairs kept; prefixes made of ids come and go


class CoprodForm(FlaskForm):
    """Flask-WTF's form, its fields bound by copying a prototype (Meta.bind_field).

    WTForms builds every field of a form anew for each request: a reflection's form has 17,
    and their constructors (labels, flags, choices, validators checked) were a twelfth of
    posting one. What a constructor makes depends only on the field's declaration, its name
    and prefix, so each (declared field, prefix) is built once, bound twice to learn which of
    its values each binding makes afresh (a label, flags, a list of choices), and later
    bindings copy the prototype, with those values copied too and the new form's own.

    A field whose label is left to WTForms gets its name translated into the reader's
    language as it is built, and the CSRF field is made for one form: those are built as
    usual."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            return bind_field(form, unbound_field, options)


@dataclass(frozen=True)
class _Prototype:
    field: object
    fresh: tuple[str, ...]  # the values each binding makes anew, copied for each


_prototypes: dict[tuple, _Prototype] = {}
_prototypes_lock = Lock()


def bind_field(form, unbound_field, options: dict):
    """`unbound_field` bound to `form`: a copy of its prototype where it may have one."""
    key = (unbound_field, options["name"], options.get("prefix", ""))
    prototype = _prototypes.get(key)
    if prototype is not None:
        return _copied(prototype, form, options.get("translations"))
    if not _copyable(type(form), options["name"], unbound_field):
        return unbound_field.bind(form=form, **options)
    prototype = _prototype(form, unbound_field, options)
    with _prototypes_lock:
        if len(_prototypes) >= _PROTOTYPES_MAX:
            _prototypes.clear()
        _prototypes[key] = prototype
    return unbound_field.bind(form=form, **options)


def _copyable(form_class, name: str, unbound_field) -> bool:
    """Whether a field may be bound from a prototype: declared on the form's class (not one
    made for a single form, as the CSRF field is), and labelled by its declaration (WTForms
    labels an unlabelled field with its name in the request's language)."""
    if getattr(form_class, name, None) is not unbound_field:
        return False
    args, kwargs = unbound_field.args, unbound_field.kwargs
    return (args and args[0] is not None) or kwargs.get("label") is not None


def _prototype(form, unbound_field, options: dict) -> _Prototype:
    """Bind the field twice: the values that differ in identity between the two, and can
    change, are those each binding must make anew."""
    first = unbound_field.bind(form=form, **options)
    second = unbound_field.bind(form=form, **options)
    fresh = tuple(key for key, value in vars(first).items()
                  if key not in ("_form", "meta", "_translations")
                  and value is not vars(second).get(key) and not isinstance(value, _IMMUTABLE))
    return _Prototype(first, fresh)


def _copied(prototype: _Prototype, form, translations):
    field = object.__new__(type(prototype.field))
    state = vars(field)
    state.update(vars(prototype.field))
    state["_form"], state["meta"], state["_translations"] = form, form.meta, translations
    for key in prototype.fresh:
        state[key] = _fresh_copy(state[key])
    return field


def _fresh_copy(value):
    """A value of a field's own, equal to `value` (one level deep, as a binding makes it)."""
    if isinstance(value, Label):
        return Label(value.field_id, value.text)
    if isinstance(value, Flags):
        flags = Flags()
        vars(flags).update(vars(value))
        return flags
    if isinstance(value, list | dict | set):
        return type(value)(value)
    return copy.copy(value)


def leaf_fields(form):
    """Every leaf field of a form, nested rows included."""
    for field in form:
        if field.type == "FieldList":
            for entry in field:
                yield from leaf_fields(entry.form) if entry.type == "FormField" else [entry]
        elif field.type == "FormField":
            yield from leaf_fields(field.form)
        else:
            yield field


def show_refusal(form, err: OperationError, aliases: dict[str, str] | None = None) -> None:
    """Put an operation's refusal next to the field it names (nested rows and `aliases` of
    operation names to form names included), or above the form when no visible field fits."""
    name = (aliases or {}).get(err.field, err.field)
    if not name:
        field = None
    elif name in form:  # a field of the form itself, whatever the form's prefix
        field = form[name]
    else:  # a field of a nested row, by its full name ("resources-0-description")
        field = next((f for f in leaf_fields(form) if f.name == name), None)
    if field is not None and field.type not in ("HiddenField", "CSRFTokenField"):
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)


@dataclass
class Outcome:
    """What became of an operation run for a form: its value, or the status of the refusal."""

    ok: bool
    value: object = None
    status: int = 200


def attempt(form, operation: Callable[..., object], *args,
            aliases: dict[str, str] | None = None, **kwargs) -> Outcome:
    """Run an operation (it flushes); on a refusal roll back and show it on the form. The
    request commits once, after its answer is made (coprod.web.commits_once)."""
    try:
        value = operation(*args, **kwargs)
    except OperationError as err:
        db.session.rollback()  # nothing of a refused change stays in the session
        show_refusal(form, err, aliases)
        return Outcome(False, status=err.status)
    return Outcome(True, value)


def email_address(form, field) -> None:
    """WTForms validator: the one address check (coprod.mail.addresses) and its message."""
    try:
        addresses.clean_address(field.data)
    except addresses.AddressError:
        raise ValidationError(str(addresses.NOT_AN_ADDRESS)) from None
