"""Turn an outbox row into a MIME message and deliver it: SMTP, or an .eml file when embedded.

Sending and recording "sent" cannot be one atomic step: a worker killed between the SMTP
server's acceptance and the database commit would send the email again on the next attempt.
So the row is committed as sent just before the last line of the SMTP conversation (the dot
that ends the message): the server receives nothing it keeps until the row says sent. A
worker killed in between sends nothing, and the row, rolled back with its connection, stays
pending for the next attempt. What remains is the instant between the commit and that one
last write, where a kill loses the email; a refusal of the message after the dot puts the row
back (mail.tasks._record_failure).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path

from flask import current_app

from coprod.mail.models import OutboxEmail


def build_message(row: OutboxEmail) -> EmailMessage:
    """The MIME message of a row; built the same way on every attempt (same Message-ID)."""
    msg = EmailMessage()
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


def deliver(row: OutboxEmail, commit_sent: Callable[[], None]) -> None:
    """Send one message through the configured backend, calling commit_sent() at the point
    of no return (see the module's docstring); raises on failure."""
    msg = build_message(row)
    if current_app.config["SMTP_HOST"]:
        _send_smtp(msg, commit_sent)
    else:
        _write_eml(row, msg)  # a second write of the same row replaces its file
        commit_sent()


def _send_smtp(msg: EmailMessage, commit_sent: Callable[[], None]) -> None:
    """Hand the message to the SMTP server; STARTTLS verifies the server's certificate."""
    cfg = current_app.config
    with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"]) as smtp:
        if cfg["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USERNAME"]:
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
        send_committing(smtp, msg, commit_sent)


def _dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2), ending in a line break."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def send_committing(smtp: smtplib.SMTP, msg: EmailMessage,
                    commit_sent: Callable[[], None]) -> None:
    """smtplib's send_message, except that commit_sent() runs before the final dot."""
    sender = getaddresses([msg["From"]])[0][1]
    recipients = [address for _, address in getaddresses(msg.get_all("To", []))]
    options = []
    if any(not address.isascii() for address in (sender, *recipients)):
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for address in recipients:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = smtp.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    smtp.send(_dot_stuffed(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))))
    try:
        commit_sent()
    except BaseException:
        smtp.close()  # no dot, no QUIT (it would read as text): the server keeps nothing
        raise
    smtp.send(b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


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
