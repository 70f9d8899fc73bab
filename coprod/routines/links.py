"""What the links of a prompt email do: answer the prompt, or stop the routine's emails.

Both links carry a signed token (coprod/routines/emails.py). The answer link opens the
reflection form pre-filled with the prompt for its own member, after logging in if needed;
once the period is over it says so and offers the ordinary form. The unsubscribe link needs no
session: the token names the routine and the member. Opening it changes nothing; its POST
(the page's button, or a mail provider's RFC 8058 one-click POST, which carries no CSRF
token and needs none; the page's own buttons are checked) stops the routine's emails to that
member.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user

from coprod.accounts.models import User
from coprod.extensions import csrf, db, login_manager
from coprod.mail.unsubscribe import Subscription, unsubscribe_page
from coprod.routines import answers, operations
from coprod.routines.emails import prompt_from_token, unsubscribe_from_token
from coprod.routines.models import Routine, RoutineOptOut
from coprod.spaces.models import Collaboration

bp = Blueprint("routines", __name__)


@bp.get("/r/<token>")
def respond(token: str):
    """The answer link: to the pre-filled reflection form of the prompt's own member."""
    prompt = prompt_from_token(token)
    if prompt is None:
        abort(404)
    routine = db.session.get(Routine, prompt.routine_id)
    collaboration = db.session.get(Collaboration, routine.collaboration_id)
    if not answers.is_open(prompt):
        return render_template("routines/prompt_over.html", routine=routine,
                               collaboration=collaboration)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()  # to the log-in page, and back here after
    if current_user.id != prompt.user_id:
        abort(404)
    return redirect(url_for("reflections.new", collaboration_id=collaboration.id,
                            prompt=token))


@bp.route("/routines/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # checked below, except for the one-click POST, which the token authenticates
def unsubscribe(token: str):
    """GET shows the button; POST unsubscribes (or resubscribes, from the confirmation)."""
    return unsubscribe_page(token, _subscription)


def _subscription(token: str) -> Subscription | None:
    found = unsubscribe_from_token(token)
    routine = db.session.get(Routine, found[0]) if found else None
    user = db.session.get(User, found[1]) if found else None
    if routine is None or user is None:
        return None
    return Subscription(
        "routines/unsubscribe.html",
        is_off=lambda: db.session.get(RoutineOptOut, (routine.id, user.id)) is not None,
        turn_off=lambda: operations.unsubscribe(routine.id, user.id),
        turn_on=lambda: operations.resubscribe(routine.id, user.id),
        context={"routine": routine,
                 "collaboration": db.session.get(Collaboration, routine.collaboration_id)})
