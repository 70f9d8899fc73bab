"""Forms of the reflection pages. Each choice is explained in a line (words from docs/domain.md);
a value posted by hand that is not offered is an error next to its field, never a 500.
The operations check everything again: these forms only catch what a page can say sooner."""

from __future__ import annotations

from markupsafe import Markup
from wtforms import (
    DateField,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import Length, Optional, ValidationError

from coprod.forms import CoprodForm
from coprod.i18n import lazy_gettext as _l
from coprod.inputs import database_id
from coprod.reflections.models import (
    BODY_MAX,
    ActionStatus,
    Attribution,
    Component,
    Kind,
    LearningLevel,
    LearningMode,
    Perspective,
    Visibility,
)
from coprod.reflections.queries import FeedFilters

# What a prompt link may fill in for the writer (?kind=improve&body=...); anything else is
# ignored.
PREFILLABLE = ("kind", "perspective", "component", "learning_level", "mode", "visibility",
               "attribution", "body", "tags")
TAGS_MAX = 500

KIND_HELP = {
    Kind.WORKS: _l("Something that works and is worth keeping or spreading."),
    Kind.IMPROVE: _l("Something that needs to be improved; it can become an improvement action."),
}
PERSPECTIVE_HELP = {
    Perspective.LOCAL: _l("What works for us locally, in our own part of the service."),
    Perspective.CITIZENS: _l("What works for the citizens who use the service."),
    Perspective.COLLABORATION: _l("What works in the collaboration between the partners."),
}
COMPONENT_HELP = {
    Component.GOVERNANCE: _l("Keeping partners cooperating at a low cost of coordination: "
                             "whom we help, the need, each partner's responsibilities."),
    Component.RESOURCES: _l("What each partner brings that is worth more combined: "
                            "equipment, places, know-how."),
    Component.ASSETS: _l("What lets information cross boundaries: shared IT, databases, "
                         "devices, places where people meet."),
    Component.ROUTINES: _l("Regular patterns of interaction: what we share, when, and in "
                           "what form."),
}
LEVEL_HELP = {
    LearningLevel.INTER: _l("Learning to collaborate as partners."),
    LearningLevel.INTRA: _l("Adapting my own organization's routines so it supports the "
                            "collaboration."),
}
MODE_HELP = {
    LearningMode.EXPLORATION: _l("New ideas, tried out together."),
    LearningMode.EXPLOITATION: _l("Partners help each other run the service as it is, better."),
}
VISIBILITY_HELP = {
    Visibility.COLLABORATION: _l("Every member of the collaboration."),
    Visibility.ORGANIZATION: _l("Only the members who speak for my organization."),
    Visibility.COORDINATORS: _l("Only the coordinators of the collaboration."),
    Visibility.PARTNERS: _l("My organization and the partner organizations I tick below."),
}


def glossary() -> list[tuple[str, str]]:
    """The words of docs/domain.md that classify a reflection, each with its plain-words line:
    readers who are not partners (citizens, guardians) meet them too."""
    explained = ((COMPONENT_HELP, Component), (LEVEL_HELP, LearningLevel),
                 (MODE_HELP, LearningMode))
    return [(str(member.label), str(helps[member]))
            for helps, choice in explained for member in choice]


ATTRIBUTION_HELP = {
    Attribution.PERSON: _l("Readers see my name and my organization."),
    Attribution.ORGANIZATION: _l("Readers see my organization only; coordinators still see "
                                 "who wrote it."),
}


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


def _offered(field) -> set[str]:
    return {str(choice.value) for choice in field.choices}


class OptionField(RadioField):
    """Radio buttons of a Choice enum, each option with a line explaining it."""

    def __init__(self, label=None, validators=None, *, enum=None, explanations=None,
                 **kwargs):
        super().__init__(label, validators, choices=enum.choices(), **kwargs)
        # Keyed by the enum's members, which are their values as strings (StrEnum).
        self.explanations = explanations or {}

    def pre_validate(self, form):
        if self.data in (None, ""):
            raise ValidationError(_l("Choose one of the options."))
        if str(self.data) not in _offered(self):
            raise ValidationError(_l("“%(value)s” is not one of the options.",
                                     value=str(self.data)[:40]))


_OPTION = Markup('<option value="%s">%s</option>')  # Markup's % escapes what it is given
_SELECTED_OPTION = Markup('<option selected value="%s">%s</option>')


class LongSelect(widgets.Select):
    """WTForms' select, each plain option written at once rather than through
    html_params: a reflection page offers the collaboration's citizens (a municipality's
    hundreds) in each reply form, and building, sorting and formatting every option's
    attributes took a third of the page. The same HTML, option for option."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return widgets.Select.render_option.__func__(cls, choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        label = choice.label or choice.value
        return (_SELECTED_OPTION if choice.selected else _OPTION) % (value, label)


class OfferedSelect(SelectField):
    """A select whose hand-made values get a plain message."""

    widget = LongSelect()

    def pre_validate(self, form):
        if str(self.data if self.data is not None else "") not in _offered(self):
            raise ValidationError(_l("Choose one of the options offered."))


class CheckboxesField(SelectMultipleField):
    """Several ids ticked in a list of checkboxes; the operation checks they are allowed."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=int, validate_choice=False, **kwargs)

    def process_formdata(self, valuelist):
        try:
            self.data = list(dict.fromkeys(database_id(v) for v in valuelist))
        except ValueError:
            self.data = []
            raise ValueError(_l("Tick the boxes offered.")) from None


class AboutCitizen:
    """The citizen a reflection, reply or message is about, and the categories of information
    it holds. Offered only to members who may reference at least one citizen; the operation
    checks that everyone who would read it may know (need to know and consent)."""

    citizen = OfferedSelect(_l("About a citizen"), default="")
    categories = CheckboxesField(_l("Information it contains"))

    def offer_citizens(self, citizens=(), categories=()) -> None:
        """The citizens the actor may reference (by pseudonym) and the collaboration's
        categories; with no citizen to offer, the fields stay hidden and post nothing."""
        if "citizen" not in self:
            return
        self.citizen.choices = [SelectChoice("", _l("No citizen"))] + [
            SelectChoice(str(c.id), c.pseudonym) for c in citizens]
        self.categories.choices = [SelectChoice(c.id, c.name) for c in categories]

    @property
    def about_offered(self) -> bool:
        return "citizen" in self and len(self.citizen.choices) > 1

    def about_data(self) -> dict:
        """The keyword arguments citizen= and categories= of the posting operations."""
        if not self.about_offered:
            return {}
        return {"citizen": int(self.citizen.data) if self.citizen.data else None,
                "categories": self.categories.data or []}


class ReflectionForm(AboutCitizen, CoprodForm):
    """What a member writes down, how it is classified, and who may read it."""

    kind = OptionField(_l("Is it something that works, or that must improve?"), enum=Kind,
                       explanations=KIND_HELP)
    perspective = OptionField(_l("From which perspective?"), enum=Perspective,
                              explanations=PERSPECTIVE_HELP)
    component = OptionField(_l("Which component of the collaboration does it concern?"),
                            enum=Component, explanations=COMPONENT_HELP)
    learning_level = OptionField(_l("Where does the learning happen?"), enum=LearningLevel,
                                 explanations=LEVEL_HELP)
    mode = OptionField(_l("How do you learn here?"), enum=LearningMode,
                       explanations=MODE_HELP)
    body = TextAreaField(_l("Your reflection"), filters=[_stripped])
    tags = StringField(_l("Tags (optional)"), filters=[_stripped],
                       validators=[Optional(), Length(max=TAGS_MAX)])
    visibility = OptionField(_l("Who may read it?"), enum=Visibility,
                             explanations=VISIBILITY_HELP, default=Visibility.COLLABORATION.value)
    audience = CheckboxesField(_l("Partner organizations who may read it"))
    attribution = OptionField(_l("Sign it with"), enum=Attribution,
                              explanations=ATTRIBUTION_HELP, default=Attribution.PERSON.value)
    mentions = CheckboxesField(_l("Mention members (optional)"))
    submit = SubmitField(_l("Post the reflection"))
    # Offered after a refusal for the audience: post to the readers that may know, instead.
    narrow = SubmitField(_l("Narrow to the partners who may know"))
    # The signed token of the routine's prompt this answers (coprod/routines/links.py).
    # A field without a label asks WTForms for one made of its name, in the reader's language:
    # Flask-WTF then reads WTForms' own catalogue from disk, at every request (a quarter of
    # building this form). A hidden field shows no label.
    prompt = HiddenField("")

    def __init__(self, *args, partners=(), members=(), speaks_for: int | None = None,
                 me: int | None = None, citizens=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.speaks_for = speaks_for
        self.narrowing: dict | None = None
        self.offer_citizens(citizens, categories)
        if speaks_for is None:
            # Without a partner organization, only the choices that need none are offered.
            self.visibility.choices = [
                c for c in self.visibility.choices
                if c.value in (Visibility.COLLABORATION, Visibility.COORDINATORS)]
            self.attribution.choices = [c for c in self.attribution.choices
                                        if c.value == Attribution.PERSON]
        self.offer_partners(partners)
        self.offer_mentions(members, me)

    def offer_partners(self, partners) -> None:
        """The partner organizations one may choose as the audience (all but one's own), and
        their names for the offer to narrow. A posted form is validated without them (the
        operation checks the audience): they are offered when the form is shown."""
        self.partner_names = {p.id: p.name for p in partners}
        self.audience.choices = [SelectChoice(p.id, p.name) for p in partners
                                 if p.id != self.speaks_for]

    def offer_mentions(self, members, me: int | None) -> None:
        """The members one may mention: everyone but oneself."""
        if "mentions" in self:
            self.mentions.choices = [SelectChoice(m.user_id, member_label(m)) for m in members
                                     if m.user_id != me]

    def prefill(self, args) -> None:
        """Fill what a prompt link suggests; values that are not offered are ignored."""
        for name in PREFILLABLE:
            value = args.get(name)
            if value is None or name not in self:
                continue
            field = self[name]
            if isinstance(field, OptionField):
                if value in _offered(field):
                    field.data = value
            else:
                field.data = value[:BODY_MAX if name == "body" else TAGS_MAX]

    def answer_prompt(self, token: str, scaffold: str) -> None:
        """Carry the prompt's token and start an empty text with the routine's questions."""
        self.prompt.data = token
        if not self.body.data:
            self.body.data = scaffold

    def reflection_data(self) -> dict:
        """The keyword arguments post_reflection and edit_reflection take."""
        data = {name: self[name].data for name in (
            "kind", "perspective", "component", "learning_level", "mode", "body", "tags",
            "visibility", "attribution")}
        # Partners ticked under another visibility are left behind, not refused.
        chosen = data["visibility"] == Visibility.PARTNERS
        data["audience"] = (self.audience.data or []) if chosen else []
        return data

    def fill_from(self, reflection) -> None:
        """Start an edit from what the reflection says now."""
        for name in ("kind", "perspective", "component", "learning_level", "mode",
                     "visibility", "attribution"):
            self[name].data = getattr(reflection, name).value
        self.body.data = reflection.body
        self.tags.data = ", ".join(t.name for t in reflection.tags)
        self.audience.data = sorted(reflection.audience_partner_ids)

    def offer_narrowing(self, visibility: str, audience: list[int]) -> None:
        """Offer, next to the visibility, to post it for these readers only (the partners that
        may know, or the author's organization alone when no other partner may)."""
        names = [self.partner_names.get(p, "") for p in (self.speaks_for, *audience)]
        self.narrowing = {"visibility": visibility, "audience": audience,
                          "names": ", ".join(n for n in names if n)}
        if visibility != Visibility.PARTNERS:
            self.narrow.label.text = _l("Post it for my organization only")


class EditReflectionForm(ReflectionForm):
    mentions = None
    citizen = None  # what a reflection is about stays as posted
    categories = None
    narrow = None
    prompt = None
    submit = SubmitField(_l("Save the changes"))


def member_label(membership) -> str:
    """A member as named in a list of members: name, and the organization spoken for."""
    if membership.partner is not None:
        return f"{membership.user.display_name} · {membership.partner.name}"
    return f"{membership.user.display_name} · {membership.role.label}"


class ReplyForm(AboutCitizen, CoprodForm):
    body = TextAreaField(_l("Your reply"), filters=[_stripped])
    mentions = CheckboxesField(_l("Mention members (optional)"))
    submit = SubmitField(_l("Post the reply"))

    def __init__(self, *args, readers=(), me: int | None = None, citizens=(), categories=(),
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.mentions.choices = [SelectChoice(m.user_id, member_label(m)) for m in readers
                                 if m.user_id != me]
        self.offer_citizens(citizens, categories)


class EditReplyForm(CoprodForm):
    body = TextAreaField(_l("Your reply"), filters=[_stripped])
    submit = SubmitField(_l("Save the reply"))


def _owner_choices(members, partner_id: int | None = None) -> list[SelectChoice]:
    return [SelectChoice("", _l("Nobody in particular"))] + [
        SelectChoice(str(m.user_id), member_label(m)) for m in members
        if m.partner_id is not None and (partner_id is None or m.partner_id == partner_id)]


def _int_or_none(value):
    if value in (None, "", "None"):
        return None
    return database_id(value)


class ActionForm(CoprodForm):
    """Turn an 'improve' reflection into an action one partner organization owns."""

    title = StringField(_l("What will be done"), filters=[_stripped],
                        validators=[Length(max=200)])
    owner_partner_id = OfferedSelect(_l("Owning partner organization"))
    owner_user_id = OfferedSelect(_l("Owner (optional)"))
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])
    submit = SubmitField(_l("Turn into an action"))

    def __init__(self, *args, partners=(), members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_partner_id.choices = [SelectChoice("", _l("Choose a partner organization"))] + [
            SelectChoice(str(p.id), p.name) for p in partners]
        self.owner_user_id.choices = _owner_choices(members)

    def action_data(self) -> dict:
        return {"title": self.title.data,
                "owner_partner_id": _int_or_none(self.owner_partner_id.data),
                "owner_user_id": _int_or_none(self.owner_user_id.data),
                "due_on": self.due_on.data}


class ActionUpdateForm(CoprodForm):
    """Move an action along; a "you said, we did" note is needed when it is done."""

    status = OfferedSelect(_l("Status"), choices=ActionStatus.choices())
    due_on = DateField(_l("Due date (optional)"), validators=[Optional()])
    owner_user_id = OfferedSelect(_l("Owner (optional)"))
    done_note = TextAreaField(_l("You said, we did"), filters=[_stripped],
                              validators=[Length(max=BODY_MAX)])
    submit = SubmitField(_l("Save the action"))

    def __init__(self, *args, members=(), owner_partner_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_user_id.choices = _owner_choices(members, owner_partner_id)

    def fill_from(self, action) -> None:
        self.status.data = action.status.value
        self.due_on.data = action.due_on
        self.owner_user_id.data = str(action.owner_user_id or "")
        self.done_note.data = action.done_note or ""

    def action_data(self) -> dict:
        return {"status": self.status.data, "due_on": self.due_on.data,
                "owner_user_id": _int_or_none(self.owner_user_id.data),
                "done_note": self.done_note.data}


class FeedFilterForm(Form):
    """The feed's filters, sent with GET (nothing changes, so no CSRF token)."""

    kind = OfferedSelect(_l("Kind"), choices=[SelectChoice("", _l("Any kind")), *Kind.choices()],
                         default="")
    perspective = OfferedSelect(
        _l("Perspective"),
        choices=[SelectChoice("", _l("Any perspective")), *Perspective.choices()], default="")
    component = OfferedSelect(
        _l("Component"),
        choices=[SelectChoice("", _l("Any component")), *Component.choices()], default="")
    partner = OfferedSelect(_l("Partner organization"), default="")
    tag = StringField(_l("Tag"), filters=[_stripped], validators=[Optional(), Length(max=40)])
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("Until (date)"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def __init__(self, *args, partners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.partner.choices = [SelectChoice("", _l("Any partner"))] + [
            SelectChoice(str(p.id), p.name) for p in partners]

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date comes before the start date."))

    def filters(self) -> FeedFilters:
        return FeedFilters(kind=self.kind.data or None, perspective=self.perspective.data or None,
                           component=self.component.data or None,
                           partner_id=int(self.partner.data) if self.partner.data else None,
                           tag=self.tag.data or None, since=self.since.data,
                           until=self.until.data)

    def is_filtered(self) -> bool:
        return self.filters() != FeedFilters()

    def args(self) -> dict:
        """The filters as query arguments, for the link to older reflections."""
        values = {name: self[name].data for name in ("kind", "perspective", "component",
                                                     "partner", "tag")}
        values.update(since=self.since.data.isoformat() if self.since.data else None,
                      until=self.until.data.isoformat() if self.until.data else None)
        return {k: v for k, v in values.items() if v}
