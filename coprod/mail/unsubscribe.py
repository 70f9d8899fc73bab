"""What every unsubscribe link of an email shares: its headers, its CSRF rule and its page.

An email that can be unsubscribed from carries its signed link in List-Unsubscribe, with
List-Unsubscribe-Post (RFC 2369, RFC 8058; written verbatim by mail.sending.MailPolicy). The
link's page needs no session. A mail provider's one-click POST carries no CSRF token, and the
signed link authenticates it; every other POST there (the page's own buttons) is checked.
Opening the link changes nothing: its page asks for a click (unsubscribe_page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import abort, current_app, render_template, request

from coprod.extensions import csrf

ONE_CLICK = "List-Unsubscribe=One-Click"


def list_unsubscribe_headers(link: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": ONE_CLICK}


def is_one_click() -> bool:
    """RFC 8058: the provider POSTs the form field List-Unsubscribe=One-Click."""
    return request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"


def check_csrf_unless_one_click() -> None:
    """For views marked @csrf.exempt: check the CSRF token of every POST but the one-click."""
    if request.method == "POST" and not is_one_click() \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


@dataclass
class Subscription:
    """The emails one signed link names: its page, and how to read and change the choice."""

    template: str
    is_off: Callable[[], bool]
    turn_off: Callable[[], object]
    turn_on: Callable[[], object] | None = None  # None: the page offers no way back
    context: dict = field(default_factory=dict)


def unsubscribe_page(token: str, find: Callable[[str], Subscription | None]):
    """The view of every unsubscribe link: 404 for a token that names nothing; GET shows the
    button; POST (the button, or a provider's one-click) turns the emails off, or on again
    from the confirmation. The request commits after the page is made (coprod.web)."""
    subscription = find(token)
    if subscription is None:
        abort(404)
    if request.method == "POST":
        check_csrf_unless_one_click()
        if request.form.get("action") == "resubscribe" and subscription.turn_on is not None:
            subscription.turn_on()
        else:
            subscription.turn_off()
    return render_template(subscription.template, token=token, opted_out=subscription.is_off(),
                           changed=request.method == "POST", **subscription.context)
