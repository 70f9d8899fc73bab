"""Forms of the conversation pages. Who may take part and what a message may hold is decided by
coprod.messages.operations, so the forms only carry what was typed (and the CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from coprod.forms import CoprodForm
from coprod.inputs import database_id
from coprod.messages.models import MESSAGE_MAX
from coprod.messages.operations import SUBJECT_MAX
from coprod.reflections.forms import AboutCitizen


class MemberChoiceField(SelectMultipleField):
    """Members as a list of checkboxes: usable by keyboard and on a phone, one label each.

    Posted ids are checked by the operation (members of this collaboration, with a clear
    message), not against the choices shown, so a stale page gets the same explanation.
    """

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, coerce=database_id, validate_choice=False, **kwargs)


def member_choices(memberships, exclude: set[int]) -> list[SelectChoice]:
    """(user id, "Name · Role · Partner organization") of members, leaving out `exclude`."""
    choices = []
    for m in memberships:
        if m.user_id in exclude:
            continue
        parts = [m.user.display_name, str(m.role.label)]
        if m.partner is not None:
            parts.append(m.partner.name)
        choices.append(SelectChoice(m.user_id, " · ".join(parts)))
    return choices


class MessageBodyField(TextAreaField):
    """A Markdown message; its length is checked by the operation, the browser helps too."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("render_kw", {"maxlength": MESSAGE_MAX, "rows": 5})
        super().__init__(label or _l("Message"), **kwargs)


class NewConversationForm(AboutCitizen, CoprodForm):
    participants = MemberChoiceField(_l("Write to"))
    subject = StringField(_l("Subject (optional)"), render_kw={"maxlength": SUBJECT_MAX})
    body = MessageBodyField()

    def __init__(self, *args, members=(), me: int | None = None, citizens=(), categories=(),
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.offer_members(members, me)
        self.offer_citizens(citizens, categories)

    def offer_members(self, members, me: int | None) -> None:
        """The members one may write to: everyone but oneself."""
        self.participants.choices = member_choices(members, {me} if me else set())


class ReplyForm(AboutCitizen, CoprodForm):
    """A message in a conversation; about a citizen, every participant must be allowed to know."""

    body = MessageBodyField(_l("Your reply"))

    def __init__(self, *args, citizens=(), categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.offer_citizens(citizens, categories)


class AddParticipantsForm(CoprodForm):
    participants = MemberChoiceField(_l("Add to the conversation"))

    def __init__(self, *args, members=(), present: set[int] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.participants.choices = member_choices(members, set(present))
