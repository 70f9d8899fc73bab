"""The emails of a routine: the prompt of a period and its nudge, each a row of the outbox.

A prompt email carries the routine's questions, a signed link that opens the reflection form
pre-filled with them (valid until the period ends; the form asks to log in if needed) and a
one-click unsubscribe link for this routine, also as List-Unsubscribe headers (RFC 2369 and
RFC 8058). It carries no reflection text and nothing about any citizen. Keys "prompt:<id>" and
"nudge:<id>" make each email exist once, however often the sweep runs.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from coprod.accounts.models import User
from coprod.extensions import db
from coprod.mail.outbox import queue_email
from coprod.mail.unsubscribe import list_unsubscribe_headers
from coprod.routines.models import Prompt, Routine
from coprod.spaces.models import Collaboration


def N_(message: str) -> str:
    """Marks a message for extraction (a default pybabel keyword) without translating it."""
    return message


# The three questions of docs/domain.md: what works for us, for the citizens, what must improve.
# English message ids, translated when shown: a routine that keeps them stores no questions,
# so each reader (page, email, API) gets them in their own language.
DEFAULT_QUESTIONS = (
    N_("What works for us locally in the collaboration?"),
    N_("What works for the citizens?"),
    N_("What needs to be improved?"),
)


def default_questions() -> list[str]:
    """The three questions in the language of this request (or of force_locale)."""
    return [gettext(question) for question in DEFAULT_QUESTIONS]


def lazy_default_questions() -> list:
    """The three questions, translated when rendered: for emails, which queue_email renders
    in the recipient's language."""
    return [_l(question) for question in DEFAULT_QUESTIONS]


def are_default_questions(questions) -> bool:
    """The questions are the three defaults, in any offered language: a form that showed
    them in Danish and came back unchanged keeps following the defaults."""
    from coprod.i18n import in_every_language

    questions = tuple(questions)
    return len(questions) == len(DEFAULT_QUESTIONS) and all(
        asked in in_every_language(default)
        for asked, default in zip(questions, DEFAULT_QUESTIONS, strict=True))
PROMPT_SUBJECT = _l("%(routine)s: what have you learned this period?")
NUDGE_SUBJECT = _l("A reminder: %(routine)s")


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"coprod.routine.{purpose}")


def respond_token(prompt: Prompt) -> str:
    """Names the prompt; whether its period is still open is checked when it is used."""
    return _serializer("respond").dumps({"p": prompt.id})


def prompt_from_token(token: str) -> Prompt | None:
    try:
        data = _serializer("respond").loads(token)
    except BadSignature:
        return None
    return db.session.get(Prompt, data.get("p")) if isinstance(data, dict) else None


def unsubscribe_token(routine_id: int, user_id: int) -> str:
    """Never expires: an unsubscribe link must work in an old email too."""
    return _serializer("unsubscribe").dumps({"r": routine_id, "u": user_id})


def unsubscribe_from_token(token: str) -> tuple[int, int] | None:
    try:
        data = _serializer("unsubscribe").loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not {"r", "u"} <= data.keys():
        return None
    return int(data["r"]), int(data["u"])


def _links(prompt: Prompt, routine: Routine) -> dict:
    """Absolute links from BASE_URL: the sweep runs in beat or a CLI, outside any request."""
    from coprod.accounts.operations import email_link

    respond = email_link("routines.respond", token=respond_token(prompt))
    unsubscribe = email_link("routines.unsubscribe",
                             token=unsubscribe_token(routine.id, prompt.user_id))
    return {"respond_link": respond, "unsubscribe_link": unsubscribe}


def _queue(prompt: Prompt, *, key: str, template: str, subject) -> None:
    routine = db.session.get(Routine, prompt.routine_id)
    user = db.session.get(User, prompt.user_id)
    collaboration = db.session.get(Collaboration, routine.collaboration_id)
    links = _links(prompt, routine)
    queue_email(
        key=key, to=user.email, template=template, locale=user.locale, timezone=user.timezone,
        subject=subject, routine=routine, collaboration=collaboration, user=user,
        questions=routine.questions or lazy_default_questions(), prompt=prompt,
        headers=list_unsubscribe_headers(links["unsubscribe_link"]),
        **links)


def queue_prompt_email(prompt: Prompt) -> None:
    routine = db.session.get(Routine, prompt.routine_id)
    _queue(prompt, key=f"prompt:{prompt.id}", template="prompt",
           subject=_Lazy(PROMPT_SUBJECT, routine.name))


def queue_nudge_email(prompt: Prompt) -> None:
    routine = db.session.get(Routine, prompt.routine_id)
    _queue(prompt, key=f"nudge:{prompt.id}", template="nudge",
           subject=_Lazy(NUDGE_SUBJECT, routine.name))


class _Lazy:
    """A subject formatted when queue_email turns it into text, in the recipient's locale."""

    def __init__(self, template, routine_name: str):
        self.template, self.routine_name = template, routine_name

    def __str__(self) -> str:
        return str(self.template) % {"routine": self.routine_name}
