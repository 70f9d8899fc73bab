"""Answering a prompt: a reflection posted from a prompt's link is linked to the prompt.

The link of a prompt email is valid while the prompt's period lasts. The reflection form shows
the routine's questions and starts the text with them as headings; posting checks again that
the prompt is the writer's own, of this collaboration, and still open (the writer may have
kept the form open past the end of the period).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from coprod import policy
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.routines.models import Prompt, Routine


def questions_of(routine: Routine) -> list[str]:
    """The questions the routine asks: its own, or the three reflection questions."""
    from coprod.routines.emails import default_questions

    return list(routine.questions or default_questions())


def is_open(prompt: Prompt, now: datetime | None = None) -> bool:
    """The prompt's period has begun and not yet ended: it may still be answered."""
    now = now or utcnow()
    return prompt.period_start <= now < prompt.period_end


def scaffold(questions: list[str]) -> str:
    """The text a reflection from a prompt starts with: each question as a Markdown heading
    with room under it, so the answer reads well in the feed as it is."""
    return "\n\n".join(f"## {question}\n\n" for question in questions).rstrip() + "\n\n"


def checked_prompt(actor: policy.Actor, collaboration_id: int, prompt: Prompt | int | None
                   ) -> Prompt | None:
    """The prompt a reflection answers (given as a Prompt or its id), or a refusal (field
    "prompt") if it is not the actor's own, of this collaboration, open to answer now.

    Someone else's prompt and a prompt that does not exist get the same answer."""
    if prompt is None:
        return None
    if not isinstance(prompt, Prompt):
        prompt = db.session.get(Prompt, int(prompt))
    routine = db.session.get(Routine, prompt.routine_id) if prompt is not None else None
    if (prompt is None or routine.collaboration_id != collaboration_id
            or prompt.user_id != actor.user_id or not policy.may(actor, "respond", prompt)):
        raise OperationError(_("This prompt is not yours to answer in this collaboration."),
                             field="prompt")
    if not is_open(prompt):
        raise OperationError(_("The period of this prompt is over: the reflection can no "
                               "longer answer it. Post it again to share it all the same."),
                             field="prompt")
    return prompt
