"""Forms of the routine settings pages. They catch what a page can say sooner; the operations
check everything again (a real rule, a real time zone, partners of this collaboration)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    FieldList,
    IntegerField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    SubmitField,
    TimeField,
)
from wtforms.validators import Length, NumberRange, Optional

from coprod.accounts.models import Role
from coprod.forms import CoprodForm
from coprod.reflections.forms import CheckboxesField, OfferedSelect
from coprod.routines.emails import default_questions
from coprod.routines.models import MAX_QUESTIONS, NAME_MAX, QUESTION_MAX
from coprod.routines.operations import NUDGE_MAX_DAYS, describe_rule
from coprod.routines.queries import WEEKDAY_NAMES

CADENCE_CHOICES = [SelectChoice("weekly", _l("Every week")),
                   SelectChoice("fortnightly", _l("Every two weeks")),
                   SelectChoice("monthly", _l("Every month (the first such weekday)")),
                   SelectChoice("custom", _l("Custom (an iCalendar RRULE)"))]
WEEKDAY_CHOICES = [SelectChoice(code, name) for code, name in WEEKDAY_NAMES.items()]


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class RolesField(SelectMultipleField):
    """Roles ticked in a list of checkboxes; the operation checks they are roles."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=Role.choices(), validate_choice=False,
                         **kwargs)


class RoutineForm(CoprodForm):
    """A routine: its name, cadence, time zone, audience, questions and nudge."""

    name = StringField(_l("Name of the routine"), filters=[_stripped],
                       validators=[Length(max=NAME_MAX)])
    cadence = OfferedSelect(_l("How often"), choices=CADENCE_CHOICES, default="fortnightly")
    weekday = OfferedSelect(_l("On"), choices=WEEKDAY_CHOICES, default="TU")
    time = TimeField(_l("At (local time)"), validators=[Optional()])
    rule = StringField(_l("Custom rule (RRULE)"), filters=[_stripped],
                       validators=[Length(max=500)])
    timezone = StringField(_l("Time zone"), filters=[_stripped], validators=[Length(max=64)])
    roles = RolesField(_l("Prompt members with these roles"))
    partners = CheckboxesField(_l("Prompt the members of these partner organizations"))
    questions = FieldList(StringField(_l("Question"), filters=[_stripped],
                                      validators=[Length(max=QUESTION_MAX)]),
                          label=_l("Questions"), min_entries=MAX_QUESTIONS,
                          max_entries=MAX_QUESTIONS)
    nudge_after_days = IntegerField(_l("Remind those who have not answered after (days)"),
                                    validators=[Optional(),
                                                NumberRange(min=1, max=NUDGE_MAX_DAYS)])
    submit = SubmitField(_l("Save the routine"))

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.partners.choices = [SelectChoice(p.id, p.name) for p in partners]

    def start_new(self, timezone: str) -> None:
        """A new routine's form: the defaults, in the collaboration's time zone."""
        self.timezone.data = timezone
        self._set_questions(default_questions())

    def fill_from(self, routine) -> None:
        """Start an edit from the routine as it is."""
        cadence, weekday, at = describe_rule(routine.rule)
        self.name.data = routine.name
        self.cadence.data = cadence
        self.weekday.data = weekday or "TU"
        self.time.data = at
        self.rule.data = routine.rule if cadence == "custom" else ""
        self.timezone.data = routine.timezone
        self.roles.data = [r.value for r in routine.roles]
        self.partners.data = sorted(routine.partner_ids)
        self._set_questions(routine.questions or default_questions())
        self.nudge_after_days.data = routine.nudge_after_days

    def _set_questions(self, questions) -> None:
        for entry, question in zip(self.questions, [*questions, *[""] * MAX_QUESTIONS],
                                   strict=False):
            entry.data = question

    def routine_data(self) -> dict:
        """The keyword arguments create_routine and update_routine take."""
        return {"name": self.name.data, "cadence": self.cadence.data,
                "weekday": self.weekday.data, "time": self.time.data or "",
                "rule": self.rule.data, "timezone": self.timezone.data,
                "roles": self.roles.data or [], "partner_ids": self.partners.data or [],
                "questions": [q.data for q in self.questions],
                "nudge_after_days": self.nudge_after_days.data}


class LeaveForm(CoprodForm):
    until = DateField(_l("No prompts until (and including)"))
    submit = SubmitField(_l("Pause my prompts"))
