"""Export what a member may read in a collaboration: CSV for spreadsheets, JSON for programs.

The reflections are those of the feed (the policy's SQL filter, the feed's filters), never
withdrawn ones, oldest first. They are read in keyset chunks of CHUNK: per chunk one query for
the reflections (partner, action status, and the author's name only where the policy's
"read_author" allows it, decided in the same SQL), one for their tags and one for their
readable replies (named by the replies' own read_author rule). So the number of queries grows
with the chunks, not with the rows, and memory holds one chunk at a time while the answer is
streamed.

CSV comes in two files: reflections (one row each, replies counted) and replies (one row
each, with the id of their reflection). JSON nests the replies under their reflection.

The body streams after the request has ended and its session has gone (with the objects it
loaded): everything here takes the collaboration's id and title when called, never touches an
object of the request while streaming, and the audit writes the reads about citizens as the
rows are delivered (delivered_rows), not before: a failed export records only what it sent.
Cells starting with = + - @, a tab or a carriage return get a leading single quote, so a
spreadsheet shows them as text instead of running them as formulas.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import and_, case, null, or_, select
from sqlalchemy.orm import aliased

from coprod import policy
from coprod.accounts.models import User
from coprod.citizens import audit
from coprod.citizens.models import Channel
from coprod.common import utcnow
from coprod.extensions import db
from coprod.policy import Actor
from coprod.reflections.models import ImprovementAction, Reflection, ReflectionTag, Reply
from coprod.reflections.queries import FeedFilters, apply_filters
from coprod.spaces.models import Collaboration, Organization, Partner

CHUNK = 500

REFLECTION_COLUMNS = ("id", "created_at", "kind", "perspective", "component", "learning_level",
                      "mode", "partner", "author", "visibility", "tags", "body", "reply_count",
                      "action_status")
REPLY_COLUMNS = ("reflection_id", "id", "parent_id", "created_at", "partner", "author", "body")

# What a spreadsheet would read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # tells Excel the file is UTF-8 (æ, ø, å, ä, ö)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


# -- reading, chunk by chunk ----------------------------------------------------------------

def _exported(actor: Actor, collaboration_id: int, filters: FeedFilters, zone: str | None):
    """The feed's selection, without withdrawn reflections, as plain rows with the names shown
    beside them (plain rows: nothing piles up in the session while a large export streams)."""
    author = aliased(User)
    # the rows pass the read rule below: only what read_author adds is asked of them
    shown_author = case((policy.where_given(actor, Reflection, "read_author"),
                         author.display_name), else_=null())
    return (
        apply_filters(policy.scoped(actor, Reflection), filters, zone)
        .where(Reflection.collaboration_id == collaboration_id,
               Reflection.withdrawn_at.is_(None))
        .with_only_columns(
            Reflection.id, Reflection.created_at, Reflection.kind, Reflection.perspective,
            Reflection.component, Reflection.learning_level, Reflection.mode,
            Reflection.visibility, Reflection.body, shown_author.label("author"),
            Organization.name.label("partner"), ImprovementAction.status.label("action_status"))
        .select_from(Reflection)
        .join(author, author.id == Reflection.author_id)
        .outerjoin(Partner, Partner.id == Reflection.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .outerjoin(ImprovementAction, ImprovementAction.reflection_id == Reflection.id)
        .order_by(Reflection.created_at, Reflection.id)
    )


def _tags_of(ids: list[int]) -> dict[int, list[str]]:
    """Tags of the chunk's reflections (readable: the ids come from the filtered query)."""
    found: dict[int, list[str]] = {}
    rows = db.session.execute(select(ReflectionTag.reflection_id, ReflectionTag.name).where(
        ReflectionTag.reflection_id.in_(ids)).order_by(ReflectionTag.name))
    for reflection_id, name in rows:
        found.setdefault(reflection_id, []).append(name)
    return found


def _replies_of(actor: Actor, ids: list[int]) -> dict[int, list[dict]]:
    """The readable, not withdrawn replies of the chunk's reflections, oldest first; the
    author's name where the policy's read_author allows it."""
    author = aliased(User)
    shown_author = case((policy.where_given(actor, Reply, "read_author"), author.display_name),
                        else_=null())
    rows = db.session.execute(
        select(Reply.id, Reply.reflection_id, Reply.parent_id, Reply.created_at, Reply.body,
               shown_author.label("author"), Organization.name.label("partner"))
        .join(author, author.id == Reply.author_id)
        .outerjoin(Partner, Partner.id == Reply.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .where(Reply.reflection_id.in_(ids), Reply.withdrawn_at.is_(None),
               policy.where(actor, Reply, "read"))
        .order_by(Reply.created_at, Reply.id))
    found: dict[int, list[dict]] = {}
    for r in rows:
        found.setdefault(r.reflection_id, []).append({
            "id": r.id, "parent_id": r.parent_id, "created_at": _iso(r.created_at),
            "partner": r.partner, "author": r.author, "body": r.body})
    return found


def export_rows(actor: Actor, collaboration: Collaboration, filters: FeedFilters | None = None,
                *, chunk: int | None = None) -> Iterator[dict]:
    """Every reflection the actor may read here (filtered), oldest first, replies nested.

    The collaboration's id is taken now: the rows are read later, while the answer streams."""
    return _rows(actor, _exported(actor, collaboration.id, filters or FeedFilters(),
                                  collaboration.timezone),
                 chunk or CHUNK)


def _rows(actor: Actor, stmt, chunk: int) -> Iterator[dict]:
    after: tuple[datetime, int] | None = None
    while True:
        page = stmt
        if after is not None:
            page = stmt.where(or_(Reflection.created_at > after[0],
                                  and_(Reflection.created_at == after[0],
                                       Reflection.id > after[1])))
        rows = db.session.execute(page.limit(chunk)).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        tags, replies = _tags_of(ids), _replies_of(actor, ids)
        for row in rows:
            yield _reflection_row(row, tags.get(row.id, []), replies.get(row.id, []))
        if len(rows) < chunk:
            return
        after = (rows[-1].created_at, rows[-1].id)


def delivered_rows(actor: Actor, collaboration: Collaboration,
                   filters: FeedFilters | None = None, *, reflections: bool = True,
                   replies: bool = True) -> Iterator[dict]:
    """export_rows() as an export sends them: the reflections (and/or the replies) that the
    file shows are written to the audit as they are delivered (channel export)."""
    def shown(row: dict) -> dict[str, list[int]]:
        return {"reflection": [row["id"]] if reflections else [],
                "reply": [r["id"] for r in row["replies"]] if replies else []}

    return audit.recorded_as_delivered(export_rows(actor, collaboration, filters), actor,
                                       Channel.EXPORT, shown, every=CHUNK)


def _reflection_row(row, tags: list[str], replies: list[dict]) -> dict:
    return {
        "id": row.id, "created_at": _iso(row.created_at), "kind": row.kind.value,
        "perspective": row.perspective.value, "component": row.component.value,
        "learning_level": row.learning_level.value, "mode": row.mode.value,
        "partner": row.partner, "author": row.author, "visibility": row.visibility.value,
        "tags": tags, "body": row.body, "reply_count": len(replies),
        "action_status": row.action_status.value if row.action_status else None,
        "replies": replies,
    }


# -- CSV ------------------------------------------------------------------------------------

def safe_cell(value) -> str:
    """A cell a spreadsheet shows as text: formula starts get a leading single quote."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(header: Iterable[str], records: Iterable[list]) -> Iterator[str]:
    """CSV text (with a BOM for Excel), a line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        writer.writerow([safe_cell(c) for c in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for record in records:
        yield line(record)


def _closing(pieces: Iterator[str], rows: Iterable[dict]) -> Iterator[str]:
    """The pieces; then the rows are closed, also when the reader goes away mid-stream, so
    that the audit writes what was delivered while the stream's context is still there."""
    try:
        yield from pieces
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def reflections_csv(rows: Iterable[dict]) -> Iterator[str]:
    """One line per reflection; its replies are counted (they are in replies_csv)."""
    return _closing(_csv(REFLECTION_COLUMNS, ([row[c] for c in REFLECTION_COLUMNS]
                                              for row in rows)), rows)


def replies_csv(rows: Iterable[dict]) -> Iterator[str]:
    """One line per reply, with the id of the reflection it answers."""
    return _closing(_csv(REPLY_COLUMNS, ([row["id"] if c == "reflection_id" else reply[c]
                                          for c in REPLY_COLUMNS]
                                         for row in rows for reply in row["replies"])), rows)


# -- JSON -----------------------------------------------------------------------------------

def json_document(collaboration: Collaboration, filters: FeedFilters | None,
                  rows: Iterable[dict]) -> Iterator[str]:
    """{"collaboration", "exported_at", "filters", "reflections": [...]}, a piece at a time
    (the head made now, from the collaboration as the request loaded it)."""
    used = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in asdict(filters or FeedFilters()).items() if v not in (None, "")}
    head = json.dumps({"collaboration": {"id": collaboration.id, "title": collaboration.title},
                       "exported_at": _iso(utcnow()), "filters": used}, ensure_ascii=False)
    return _closing(_json_pieces(head, rows), rows)


def _json_pieces(head: str, rows: Iterable[dict]) -> Iterator[str]:
    yield head[:-1] + ', "reflections": ['
    for n, row in enumerate(rows):
        yield ("," if n else "") + json.dumps(row, ensure_ascii=False)
    yield "]}"


def filename(collaboration: Collaboration, what: str, extension: str) -> str:
    """coprod-<id>-<what>-<date>.<ext>: plain ASCII, so every browser keeps it as it is."""
    return f"coprod-{collaboration.id}-{what}-{utcnow().date().isoformat()}.{extension}"
