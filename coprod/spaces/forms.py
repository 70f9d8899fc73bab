"""Forms of the collaboration pages. Enum choices come from the models' Choice enums, so a
value posted by hand that is not one of them is a field error, never a 500."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from coprod.accounts.forms import timezone_choices
from coprod.accounts.models import Role
from coprod.forms import CoprodForm, email_address
from coprod.inputs import database_id
from coprod.spaces.models import (
    Charter,
    Interdependence,
    Purpose,
    RemitKind,
    ResponsibilityKind,
    Sector,
    Tangibility,
)

# Rows a partner description accepts; more is a form someone built by hand.
MAX_ROWS = 100


def _enum_or_none(enum_cls):
    """A coercer for a select whose empty choice means "none"."""

    def coerce(value):
        if value is None or value == "" or value == "None":
            return None
        return enum_cls(value)

    return coerce


def _int_or_none(value):
    if value is None or value == "" or value == "None":
        return None
    return database_id(value)


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class CollaborationForm(CoprodForm):
    """The fields of a collaboration a coordinator sets up and edits."""

    title = StringField(_l("Title"), filters=[_stripped],
                        validators=[DataRequired(_l("Give the collaboration a title.")),
                                    Length(max=200)])
    purpose = SelectField(_l("Purpose"), choices=Purpose.choices(), coerce=Purpose)
    remit_kind = SelectField(_l("Who it helps"), choices=RemitKind.choices(), coerce=RemitKind)
    remit = StringField(_l("Remit"), filters=[_stripped],
                        validators=[DataRequired(_l("Say whom the collaboration helps.")),
                                    Length(max=300)])
    description = TextAreaField(_l("Description"), filters=[_stripped],
                                validators=[Optional(), Length(max=10000)])
    interdependence = SelectField(
        _l("Interdependence of the partners' resources"),
        choices=[SelectChoice("", _l("Not decided yet")), *Interdependence.choices()],
        coerce=_enum_or_none(Interdependence))
    timezone = SelectField(_l("Time zone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices()

    def fields_data(self) -> dict:
        """The values update_collaboration / create_collaboration take."""
        return {name: getattr(self, name).data for name in (
            "title", "purpose", "remit_kind", "remit", "description", "interdependence",
            "timezone")}


class NewCollaborationForm(CollaborationForm):
    """A collaboration to start; the creator may name the organization they work for."""

    organization_id = SelectField(_l("My organization"), coerce=_int_or_none,
                                  validate_choice=True)
    organization_name = StringField(_l("Or a new organization: its name"), filters=[_stripped],
                                    validators=[Optional(), Length(max=200)])
    organization_sector = SelectField(
        _l("The new organization's sector"),
        choices=[SelectChoice("", _l("Choose a sector")), *Sector.choices()],
        coerce=_enum_or_none(Sector))
    submit = SubmitField(_l("Create the collaboration"))

    def __init__(self, *args, organizations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id.choices = [SelectChoice("", _l("None, or a new one below"))] + [
            SelectChoice(str(o.id), o.name) for o in organizations]

    def validate_organization_name(self, field):
        if field.data and self.organization_id.data is not None:
            raise ValidationError(_l("Pick a known organization or name a new one, not both."))

    def validate_organization_sector(self, field):
        if self.organization_name.data and field.data is None:
            raise ValidationError(_l("Choose the organization's sector."))


class SettingsForm(CollaborationForm):
    submit = SubmitField(_l("Save the settings"))


class CharterForm(CoprodForm):
    """The four questions; base_version is the version the editor started from."""

    why = TextAreaField(Charter.QUESTIONS[0][1], validators=[Length(max=20000)])
    resources = TextAreaField(Charter.QUESTIONS[1][1], validators=[Length(max=20000)])
    assets = TextAreaField(Charter.QUESTIONS[2][1], validators=[Length(max=20000)])
    routines = TextAreaField(Charter.QUESTIONS[3][1], validators=[Length(max=20000)])
    base_version = HiddenField(validators=[
        InputRequired(_l("The form is incomplete. Reload the page and try again.")),
        Regexp(r"^\d{1,9}$", message=_l("The form is incomplete. Reload the page and try again."))])
    submit = SubmitField(_l("Save the charter"))

    def answers(self) -> dict:
        return {key: getattr(self, key).data or "" for key, _label in Charter.QUESTIONS}


class ResponsibilityRow(Form):
    kind = SelectField(_l("Kind"), choices=ResponsibilityKind.choices(),
                       coerce=ResponsibilityKind)
    description = TextAreaField(_l("Description"), filters=[_stripped],
                                validators=[Optional(), Length(max=2000)])


class ResourceRow(Form):
    tangibility = SelectField(_l("Tangible or intangible"), choices=Tangibility.choices(),
                              coerce=Tangibility)
    description = TextAreaField(_l("Description"), filters=[_stripped],
                                validators=[Optional(), Length(max=2000)])


class DescribePartnerForm(CoprodForm):
    """A partner's responsibilities and resources; an emptied row is removed."""

    responsibilities = FieldList(FormField(ResponsibilityRow), max_entries=MAX_ROWS)
    resources = FieldList(FormField(ResourceRow), max_entries=MAX_ROWS)
    submit = SubmitField(_l("Save the description"))

    def add_blank_rows(self, count: int = 2) -> None:
        for rows in (self.responsibilities, self.resources):
            for _i in range(count):
                if len(rows.entries) < MAX_ROWS:
                    rows.append_entry()

    def filled_responsibilities(self) -> list[dict]:
        rows = [entry.form for entry in self.responsibilities]
        return [{"kind": row.kind.data, "description": row.description.data}
                for row in rows if row.description.data]

    def filled_resources(self) -> list[dict]:
        rows = [entry.form for entry in self.resources]
        return [{"tangibility": row.tangibility.data, "description": row.description.data}
                for row in rows if row.description.data]


class AddPartnerForm(CoprodForm):
    organization_id = SelectField(_l("A known organization"), coerce=_int_or_none)
    name = StringField(_l("Or a new organization: its name"), filters=[_stripped],
                       validators=[Optional(), Length(max=200)])
    sector = SelectField(_l("The new organization's sector"),
                         choices=[SelectChoice("", _l("Choose a sector")), *Sector.choices()],
                         coerce=_enum_or_none(Sector))
    submit = SubmitField(_l("Add the partner"))

    def __init__(self, *args, organizations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id.choices = [SelectChoice("", _l("None, a new one below"))] + [
            SelectChoice(str(o.id), o.name) for o in organizations]

    def validate_name(self, field):
        if field.data and self.organization_id.data is not None:
            raise ValidationError(_l("Pick a known organization or name a new one, not both."))


class MemberForm(CoprodForm):
    """A member's role and the partner they act on behalf of (one form per member row)."""

    role = SelectField(_l("Role"), choices=Role.choices(), coerce=Role)
    partner_id = SelectField(_l("On behalf of"), coerce=_int_or_none)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.partner_id.choices = [SelectChoice("", _l("No partner"))] + [
            SelectChoice(str(p.id), p.name) for p in partners]


class BulkInviteForm(CoprodForm):
    """A CSV of people to invite; coprod.accounts.bulk reads and bounds it."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    submit = SubmitField(_l("Upload and check"))


class BulkSendForm(CoprodForm):
    """No fields: the button and its CSRF token."""


class InviteForm(CoprodForm):
    email = EmailField(_l("Email address"), filters=[_stripped], validators=[
        DataRequired(_l("Give the email address to invite.")), email_address])
    role = SelectField(_l("Role"), choices=Role.choices(), coerce=Role)
    partner_id = SelectField(_l("Partner organization"), coerce=_int_or_none)
    message = TextAreaField(_l("Personal message (optional)"), filters=[_stripped],
                            validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Send the invitation"))

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.partner_id.choices = [SelectChoice("", _l("No partner"))] + [
            SelectChoice(str(p.id), p.name) for p in partners]
