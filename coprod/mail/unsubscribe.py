"""What every unsubscribe link of an email shares: its headers and its CSRF rule.

An email that can be unsubscribed from carries its signed link in List-Unsubscribe, with
List-Unsubscribe-Post (RFC 2369, RFC 8058; written verbatim by mail.sending.MailPolicy). The
link's page needs no session. A mail provider's one-click POST carries no CSRF token, and the
signed link authenticates it; every other POST there (the page's own buttons) is checked.
"""

from __future__ import annotations

from flask import current_app, request

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
