"""Form helpers every blueprint shares: an operation's refusal shown where the user looks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wtforms.validators import ValidationError

from coprod.common import OperationError
from coprod.extensions import db
from coprod.mail import addresses


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
