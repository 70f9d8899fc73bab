"""Bulk invitations: a CSV of people (email, name, partner, role), checked row by row, then
the valid rows invited at once, one email each.

Upload, preview, send: the upload is kept as an InvitationBatch (its rows as read), the
preview shows each row's problem, and sending marks the batch sent in the same transaction as
its invitations, with a conditional UPDATE, so a second submit (a double click, a reload)
sends nothing twice. The API takes the same rows as CSV or JSON, with a dry run that answers
the preview.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import ForeignKey, String, Text, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from coprod.common import UTCDateTime, utcnow
from coprod.extensions import db
from coprod.i18n import lazy_gettext as _l

COLUMNS = ("email", "name", "partner", "role")
# A preview nobody sent is dropped after this long.
PREVIEW_LIFETIME = timedelta(days=1)


class InvitationBatch(db.Model):
    """An uploaded list of people to invite: previewed, then sent once."""

    __tablename__ = "invitation_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    collaboration_id: Mapped[int] = mapped_column(
        ForeignKey("collaborations.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    # The rows as read from the file: a JSON list of {"line", "email", "name", "partner",
    # "role"} (rows beyond BULK_INVITATION_MAX_ROWS included, reported as too many).
    rows_json: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # After sending: each row's outcome (an invitation id or its problems), as JSON.
    report_json: Mapped[str | None] = mapped_column(Text)


# -- reading a file -------------------------------------------------------------------------

class UploadError(Exception):
    """The file as a whole cannot be read (too large, not text, no rows): nothing to preview."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(str(message))
        self.message = message
        self.status = status


# Header names understood besides the English ones (Danish, Finnish, common variants).
HEADER_ALIASES = {
    "email": "email", "e-mail": "email", "mail": "email", "email address": "email",
    "e-mailadresse": "email", "sähköposti": "email",
    "name": "name", "navn": "name", "nimi": "name", "full name": "name",
    "partner": "partner", "organization": "partner", "organisation": "partner",
    "kumppani": "partner",
    "role": "role", "rolle": "role", "rooli": "role",
}


def max_rows() -> int:
    return current_app.config["BULK_INVITATION_MAX_ROWS"]


def max_bytes() -> int:
    return current_app.config["BULK_INVITATION_MAX_BYTES"]


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM spreadsheets write), else Windows-1252, which is what a
    spreadsheet saves as "CSV" on many Danish and Finnish desktops."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        raise UploadError(_l("This is not a CSV text file. Save the sheet as CSV and upload "
                             "that."))
    return text


def _dialect(text: str):
    """Commas, semicolons (spreadsheets in Danish) or tabs, whichever the file uses."""
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _columns(first: list[str]) -> list[str] | None:
    """The column of each cell if the first row is a header, else None (then the columns are
    email, name, partner, role in that order)."""
    names = [HEADER_ALIASES.get(cell.strip().lower()) for cell in first]
    if "email" not in names:
        return None
    return [name or "" for name in names]


def read_csv(data: bytes) -> list[dict]:
    """The rows of an uploaded CSV as dicts (line, email, name, partner, role), each line
    numbered as in the file; blank lines are skipped. The byte limit bounds how many."""
    if len(data) > max_bytes():
        raise UploadError(_l("The file is larger than %(kib)d KiB. Split it into smaller "
                             "files.", kib=max_bytes() // 1024), status=413)
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    rows: list[dict] = []
    columns = None
    try:
        for index, cells in enumerate(reader):
            if index == 0:
                columns = _columns(cells)
                if columns is not None:
                    continue
            if not any(cell.strip() for cell in cells):
                continue
            row = {"line": reader.line_num}
            for name, cell in zip(columns or COLUMNS, cells, strict=False):
                if name and name not in row:
                    row[name] = cell.strip()
            rows.append(row)
    except csv.Error as err:
        raise UploadError(_l("Line %(line)d cannot be read as CSV: %(reason)s",
                             line=reader.line_num, reason=str(err))) from None
    if not rows:
        raise UploadError(_l("The file holds no rows. Put one person per line: email, name, "
                             "partner, role."))
    return rows


# -- checking rows --------------------------------------------------------------------------

@dataclass
class Problem:
    code: str
    message: str


@dataclass
class Row:
    """One person of the file, what is wrong with them, and what became of them."""

    line: int
    email: str = ""
    name: str = ""
    partner: str = ""
    role: str = ""
    problems: list[Problem] = field(default_factory=list)
    clean_email: str | None = None
    role_value: str | None = None
    partner_id: int | None = None
    invitation_id: int | None = None

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("clean_email", "role_value", "partner_id"):
            data.pop(key)
        return data


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").replace("-", " ").lower().split())


def _role_names() -> dict[str, str]:
    """Every way a role may be written: its value, its English label, its label in the
    language of the page, without regard to case, dashes and underscores."""
    from flask_babel import force_locale

    from coprod.accounts.models import Role

    names = {}
    for role in Role:
        names[_norm(role.value)] = role.value
        names[_norm(str(role.label))] = role.value
        with force_locale("en"):
            names[_norm(str(role.label))] = role.value
    return names


def _as_text(value, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def check_rows(collaboration, raw_rows: list[dict]) -> list[Row]:
    """Each row with its problems: bad email, unknown partner, unknown role, a partner
    missing for partner staff, a duplicate of an earlier row, someone already a member, or a
    row beyond the limit. Reads the collaboration's partners and members in two queries."""
    from coprod import inputs
    from coprod.accounts.models import Role, User
    from coprod.mail import addresses
    from coprod.spaces.models import Membership, Partner

    partners = list(db.session.scalars(select(Partner).where(
        Partner.collaboration_id == collaboration.id)))
    by_name = {_norm(p.name): p for p in partners}
    by_id = {str(p.id): p for p in partners}
    roles = _role_names()
    limit = max_rows()
    rows: list[Row] = []
    for index, raw in enumerate(raw_rows):
        row = Row(line=int(raw.get("line") or index + 1),
                  email=_as_text(raw.get("email"), 254), name=_as_text(raw.get("name"), 200),
                  partner=_as_text(raw.get("partner"), 200), role=_as_text(raw.get("role"), 64))
        rows.append(row)
        if index >= limit:
            row.problems.append(Problem("too_many_rows", _(
                "Beyond the first %(max)d rows: invite these with another file.", max=limit)))
            continue
        if any(inputs.unstorable(text) for text in (row.email, row.name, row.partner,
                                                    row.role)):
            row.problems.append(Problem("unreadable", _(
                "This line holds characters that cannot be stored.")))
            continue
        try:
            row.clean_email = addresses.clean_address(row.email)
        except addresses.AddressError:
            row.problems.append(Problem("bad_email", _("This is not an email address.")))
        if len(row.name) > 120:
            row.problems.append(Problem("name_too_long", _("Use at most 120 characters.")))
        partner = None
        if row.partner:
            partner = by_name.get(_norm(row.partner)) or by_id.get(row.partner)
            if partner is None:
                row.problems.append(Problem("unknown_partner", _(
                    "No partner of this collaboration is called “%(partner)s”.",
                    partner=row.partner)))
            else:
                row.partner_id = partner.id
        row.role_value = roles.get(_norm(row.role)) if row.role else (
            Role.PARTNER_STAFF.value)
        if row.role_value is None:
            row.problems.append(Problem("unknown_role", _(
                "Unknown role “%(role)s”. Use one of: %(roles)s.", role=row.role,
                roles=", ".join(str(r.label) for r in Role))))
        elif row.role_value == Role.PARTNER_STAFF.value and not row.partner:
            row.problems.append(Problem("partner_required", _(
                "Partner staff work for a partner: give the partner organization.")))
    _mark_duplicates_and_members(collaboration, rows, User, Membership)
    return rows


def _mark_duplicates_and_members(collaboration, rows: list[Row], User, Membership) -> None:
    emails = {row.clean_email for row in rows if row.clean_email}
    members = set(db.session.scalars(
        select(User.email).join(Membership, Membership.user_id == User.id).where(
            Membership.collaboration_id == collaboration.id, User.email.in_(emails)))
    ) if emails else set()
    first_line: dict[str, int] = {}
    for row in rows:
        if not row.clean_email:
            continue
        if row.clean_email in first_line:
            row.problems.append(Problem("duplicate", _(
                "The same address as line %(line)d.", line=first_line[row.clean_email])))
            continue
        first_line[row.clean_email] = row.line
        if row.clean_email in members:
            row.problems.append(Problem("already_member", _(
                "Already a member of this collaboration.")))


# -- sending --------------------------------------------------------------------------------

def send_rows(actor, collaboration, raw_rows: list[dict]) -> list[Row]:
    """Invite every valid row (one email each), checked again now; the others are reported
    with their problem. Flushes, never commits."""
    from coprod import policy
    from coprod.accounts.operations import invite
    from coprod.common import OperationError

    policy.require(actor, "invite", collaboration)
    rows = check_rows(collaboration, raw_rows)
    for row in rows:
        if not row.valid:
            continue
        try:
            invitation = invite(actor, collaboration, row.clean_email, row.role_value,
                                partner_id=row.partner_id, name=row.name or None)
        except OperationError as err:  # a rule of invite() the checks above do not know
            row.problems.append(Problem("refused", str(err.message)))
            continue
        row.invitation_id = invitation.id
    return rows


def create_batch(actor, collaboration, raw_rows: list[dict], filename: str) -> InvitationBatch:
    """Keep an upload for its preview; previews nobody sent within a day go."""
    from coprod import policy

    policy.require(actor, "invite", collaboration)
    db.session.execute(delete(InvitationBatch).where(
        InvitationBatch.sent_at.is_(None),
        InvitationBatch.created_at < utcnow() - PREVIEW_LIFETIME))
    batch = InvitationBatch(collaboration_id=collaboration.id, created_by_id=actor.user_id,
                            filename=(filename or "")[:255], rows_json=json.dumps(raw_rows))
    db.session.add(batch)
    db.session.flush()
    return batch


def batch_rows(batch: InvitationBatch) -> list[dict]:
    return json.loads(batch.rows_json)


def send_batch(actor, collaboration, batch: InvitationBatch) -> list[Row] | None:
    """Send a previewed batch once: claimed with a conditional UPDATE, so a second submit
    (a double click, a reload, two tabs) finds it sent and answers None."""
    from coprod import policy

    policy.require(actor, "invite", collaboration)
    claimed = db.session.execute(
        update(InvitationBatch)
        .where(InvitationBatch.id == batch.id, InvitationBatch.sent_at.is_(None))
        .values(sent_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return None
    rows = send_rows(actor, collaboration, batch_rows(batch))
    db.session.execute(update(InvitationBatch).where(InvitationBatch.id == batch.id).values(
        report_json=json.dumps([row.as_dict() for row in rows]))
        .execution_options(synchronize_session=False))
    db.session.flush()
    db.session.refresh(batch)
    return rows


def report_rows(batch: InvitationBatch) -> list[Row]:
    """What sending a batch did, row by row."""
    rows = []
    for data in json.loads(batch.report_json or "[]"):
        problems = [Problem(**p) for p in data.pop("problems", [])]
        rows.append(Row(**data, problems=problems))
    return rows


def count_valid(rows: list[Row]) -> int:
    return sum(1 for row in rows if row.valid)

