"""Turn an outbox row into a MIME message and deliver it: SMTP, or an .eml file when embedded.

Sending and recording "sent" cannot be one atomic step, and of the two orders only one loses
nothing: the row is marked sent only after the SMTP server's 250 reply to the final dot (or
once the .eml file is in place). A server may drop a message whose sender disconnects before
that reply, so a row committed as sent any earlier could be an email that never arrived. A
worker killed between the 250 and the commit leaves the row pending, and the next attempt
sends it again with the same Message-ID (which mail clients and providers deduplicate): an
email may rarely arrive twice, never not at all.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path

from flask import current_app

from coprod.mail.models import OutboxEmail

log = logging.getLogger(__name__)


# RFC 2369 headers: each holds URLs between angle brackets, which mail clients read only as
# they are. The default policy would write a long one RFC 2047-encoded (=?utf-8?q?=3Chttp...),
# and no client offers a one-click unsubscribe from that.
URL_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "list-help",
                         "list-subscribe", "list-post", "list-owner", "list-archive"})
HEADER_LINE_MAX = 998  # RFC 5322 2.1.1, without the CRLF


class MailPolicy(email.policy.EmailPolicy):
    """The default policy, except that URL headers are written verbatim, on one line."""

    def _verbatim(self, name: str, value) -> str | None:
        text = str(value)
        if name.lower() not in URL_HEADERS or not text.isascii() \
                or len(name) + 2 + len(text) > HEADER_LINE_MAX:
            return None
        return f"{name}: {text}{self.linesep}"

    def fold(self, name, value):
        line = self._verbatim(name, value)
        return super().fold(name, value) if line is None else line

    def fold_binary(self, name, value):
        line = self._verbatim(name, value)
        return super().fold_binary(name, value) if line is None else line.encode("ascii")


MAIL_POLICY = MailPolicy()


def build_message(row: OutboxEmail) -> EmailMessage:
    """The MIME message of a row; built the same way on every attempt (same Message-ID)."""
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at)
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (row.headers or {}).items():
        msg[name] = value
    msg.set_content(row.body_text)
    if row.body_html:
        msg.add_alternative(row.body_html, subtype="html")
    return msg


def is_transient(exc: BaseException) -> bool:
    """Worth trying again later? 4xx SMTP replies and network trouble are; 5xx replies are not.

    smtplib's exceptions all derive from OSError, so the SMTP reply code is checked first.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):
        return False  # e.g. the server does not support STARTTLS: retrying will not help
    return isinstance(exc, OSError)  # refused, timed out, TLS handshake, full disk


def deliver(row: OutboxEmail) -> None:
    """Send one message through the configured backend; returns once the SMTP server accepted
    it (250 after the final dot) or its .eml file is written, raises on failure."""
    msg = build_message(row)
    if current_app.config["SMTP_HOST"]:
        _send_smtp(msg)
    else:
        _write_eml(row, msg)  # a second write of the same row replaces its file


def _send_smtp(msg: EmailMessage) -> None:
    """Hand the message to the SMTP server; STARTTLS verifies the server's certificate.

    Once the server has accepted the message, nothing may make it look failed: a QUIT that
    goes wrong is ignored (smtplib's context manager would raise on it).
    """
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"])
    try:
        if cfg["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USERNAME"]:
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
        send_message(smtp, msg)
    except BaseException:
        smtp.close()
        raise
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()


def send_message(smtp: smtplib.SMTP, msg: EmailMessage) -> None:
    """Send `msg` on an open connection; returns only after the server's 250 to the final
    dot (smtplib's sendmail reads it), raises if the server refused it."""
    sender = getaddresses([msg["From"]])[0][1]
    recipients = [address for _, address in getaddresses(msg.get_all("To", []))]
    options = []
    if any(not address.isascii() for address in (sender, *recipients)):
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    refused = smtp.sendmail(sender, recipients,
                            msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), options)
    if refused:  # accepted for the others: raising would send it to them again
        log.warning("email %s accepted, except for %s", msg["Message-ID"], refused)


def eml_name(row: OutboxEmail) -> str:
    """One file per row, named so that sorting the names sorts the emails by creation."""
    return f"{row.created_at:%Y%m%dT%H%M%S%f}-{row.id:010d}.eml"


def _write_eml(row: OutboxEmail, msg: EmailMessage) -> None:
    """Write atomically (temp file + rename): a reader never sees half an email, and a resend
    of the same row replaces its file instead of adding a second one."""
    folder = Path(current_app.config["MAIL_FILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    name = eml_name(row)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    tmp.replace(folder / name)
