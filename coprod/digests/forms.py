"""Forms of the digest pages. They catch what a page can say sooner; the operations check
everything again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectChoice, SubmitField, TextAreaField
from wtforms.validators import Length

from coprod.digests.models import DigestCadence
from coprod.digests.operations import NOTE_MAX
from coprod.forms import CoprodForm
from coprod.reflections.forms import OfferedSelect

DELIVERY_CHOICES = [
    SelectChoice("automatic", _l("Send each digest as soon as it is built")),
    SelectChoice("review", _l("Wait until a coordinator has reviewed it and added a note")),
]


def _stripped(value):
    return value.strip() if isinstance(value, str) else value


class SettingsForm(CoprodForm):
    """How often digests are built, from which day, and how they go out."""

    cadence = OfferedSelect(_l("A digest every"), choices=DigestCadence.choices())
    anchor_on = DateField(_l("First day of the first period"))
    delivery = RadioField(_l("Sending"), choices=DELIVERY_CHOICES, default="automatic")
    submit = SubmitField(_l("Save the digest settings"))

    def fill_from(self, settings) -> None:
        self.cadence.data = str(settings.cadence)
        self.anchor_on.data = settings.anchor_on
        self.delivery.data = "automatic" if settings.send_automatically else "review"

    def settings_data(self) -> dict:
        return {"cadence": self.cadence.data, "anchor_on": self.anchor_on.data,
                "send_automatically": self.delivery.data == "automatic"}


class ReviewForm(CoprodForm):
    """The coordinator's note on a digest waiting for review, then Send."""

    note = TextAreaField(_l("Coordinator's note"), filters=[_stripped],
                         validators=[Length(max=NOTE_MAX)])
    save = SubmitField(_l("Save the note"))
    send = SubmitField(_l("Send the digest"))
