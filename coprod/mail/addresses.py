"""Email addresses: one check and one normal form for every path that writes one.

User accounts (`coprod users create`, accepting an invitation), invitations (page, API, demo)
all go through clean_address, via coprod.accounts.operations.clean_email; the invitation form
and the API's schema ask it too, to answer next to the field with the other input errors.
Lookups (log-in, password reset) use normalize_address, which gives a valid address the same
form. An address
is a mailbox only: no display name, no comments, no quoted local part, no line break (an
address is written into the To: header). Deliverability is not checked: there is no network.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

MAX_LENGTH = 254  # RFC 5321: the longest forward path, and the columns' length
# What a person is told, on a page, in the API and on the command line.
NOT_AN_ADDRESS = _l("This is not an email address; write it like name@example.org.")


class AddressError(ValueError):
    """Not an email address; the message says why (in English, for logs and the CLI)."""


def normalize_address(text: str | None) -> str:
    """The form addresses are stored and looked up in: trimmed, NFC, lower case."""
    return unicodedata.normalize("NFC", (text or "").strip()).lower()


def has_line_break(text: str) -> bool:
    """Would this value, written into a header, start a new header line?"""
    return any(c in text for c in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def clean_address(text: str | None) -> str:
    """A real mailbox address in its normal form, or AddressError."""
    raw = text or ""
    if has_line_break(raw):
        raise AddressError("An email address holds no line break.")
    raw = raw.strip()
    if not raw:
        raise AddressError("No email address given.")
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    address = normalize_address(checked.normalized)
    if len(address) > MAX_LENGTH:
        raise AddressError("The email address is too long.")
    return address
