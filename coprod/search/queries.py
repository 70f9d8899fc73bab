"""Search what a member may read: every candidate is filtered by the policy in SQL.

One UNION of three selects (reflections, replies, messages), each restricted by
policy.where(actor, Model, "read") and by the text match, is counted and cut into pages in
the database; only the page's rows come back. PostgreSQL matches with the GIN-indexed
to_tsvector('simple', body) against websearch_to_tsquery('simple', q) (quoted phrases, OR and
-word work) and ranks with ts_rank. SQLite finds rows holding every word of the query (OR and
-words are not understood there), case-insensitively (Unicode case folding, so Æ, Ø, Å and
Ä, Ö fold too), newest first.

Excerpts are made in Python from the Markdown's plain text, the same on both databases (a
ts_headline over the raw Markdown would show its syntax): the text is escaped and only the
<mark> around the query's words is markup.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import (
    Engine,
    Float,
    Integer,
    and_,
    case,
    cast,
    event,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from coprod import policy
from coprod.accounts.models import User
from coprod.citizens import audit
from coprod.common import OperationError
from coprod.extensions import db
from coprod.markdown import render_markdown
from coprod.messages.models import Conversation, Message
from coprod.policy import Actor
from coprod.reflections.models import Reflection, Reply
from coprod.search import SEARCH_CONFIG, body_vector
from coprod.spaces.models import Collaboration, Membership, Organization, Partner

QUERY_MAX = 200
PAGE_SIZE = 20
PAGE_SIZE_MAX = 100
EXCERPT_LENGTH = 240
KINDS = ("reflection", "reply", "message")

_WORD = re.compile(r"\w+")
_FOLD = "coprod_casefold"


# -- the query text -------------------------------------------------------------------------

def clean_query(q: str | None) -> str:
    """The query with spaces collapsed; '' means nothing to search; too long is refused."""
    text = " ".join((q or "").split())
    if len(text) > QUERY_MAX:
        raise OperationError(_("Keep your search under %(n)d characters.", n=QUERY_MAX),
                             field="q")
    return text if _WORD.search(text) else ""


def query_words(q: str) -> list[str]:
    """The words of a query, case-folded, without operators (OR) or excluded -words."""
    words = []
    for match in _WORD.finditer(q):
        word = match.group().casefold()
        excluded = match.start() > 0 and q[match.start() - 1] == "-"
        if word != "or" and not excluded and word not in words:
            words.append(word)
    return words


# -- matching, per database -----------------------------------------------------------------

def _fold_text(value):
    return value.casefold() if isinstance(value, str) else value


def _register_fold(dbapi_connection, connection_record) -> None:
    """SQLite's lower() folds ASCII only; Danish and Finnish words need æ, ø, å, ä, ö too."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(_FOLD, 1, _fold_text, deterministic=True)


def install_sqlite_casefold() -> None:
    """Give every SQLite connection of this process the case-folding function."""
    if not event.contains(Engine, "connect", _register_fold):
        event.listen(Engine, "connect", _register_fold)


install_sqlite_casefold()


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class _Matcher:
    """How one database tells whether a body matches the query, and how well."""

    q: str
    words: tuple[str, ...]
    fulltext: bool

    def matches(self, body):
        if self.fulltext:
            return body_vector(body).bool_op("@@")(self._tsquery())
        folded = getattr(func, _FOLD)(body)
        # Only -words (nothing to require): everything, as websearch_to_tsquery reads "-x".
        return and_(true(), *[folded.like(f"%{_escape_like(w)}%", escape="\\")
                              for w in self.words])

    def rank(self, body):
        if self.fulltext:
            return cast(func.ts_rank(body_vector(body), self._tsquery()), Float)
        return cast(literal(0.0), Float)

    def _tsquery(self):
        return func.websearch_to_tsquery(SEARCH_CONFIG, self.q)


def _matcher(q: str) -> _Matcher:
    fulltext = db.session.get_bind().dialect.name == "postgresql"
    return _Matcher(q, tuple(query_words(q)), fulltext)


# -- the candidates, each through the policy ------------------------------------------------

def _no_int():
    return cast(null(), Integer)


def _reflections(actor: Actor, m: _Matcher, collaboration_id: int | None):
    """Readable, not withdrawn reflections; the author only where read_author allows."""
    stmt = select(
        literal_column("'reflection'").label("kind"), Reflection.id.label("id"),
        Reflection.collaboration_id.label("collaboration_id"),
        Reflection.id.label("reflection_id"), _no_int().label("conversation_id"),
        Reflection.created_at.label("created_at"), Reflection.body.label("body"),
        Reflection.partner_id.label("partner_id"),
        case((policy.where(actor, Reflection, "read_author"), Reflection.author_id),
             else_=_no_int()).label("author_id"),
        m.rank(Reflection.body).label("rank"),
    ).where(policy.where(actor, Reflection, "read"), Reflection.withdrawn_at.is_(None),
            m.matches(Reflection.body))
    if collaboration_id is not None:
        stmt = stmt.where(Reflection.collaboration_id == collaboration_id)
    return stmt


def _replies(actor: Actor, m: _Matcher, collaboration_id: int | None):
    """Readable replies, neither they nor their reflection withdrawn; the author only where
    read_author allows (not the reflection's author who signed with the organization)."""
    # An alias: the policy's subqueries on `reflections` must not correlate with this join.
    parent = aliased(Reflection)
    stmt = select(
        literal_column("'reply'"), Reply.id, parent.collaboration_id, Reply.reflection_id,
        _no_int(), Reply.created_at, Reply.body, Reply.partner_id,
        case((policy.where(actor, Reply, "read_author"), Reply.author_id), else_=_no_int()),
        m.rank(Reply.body),
    ).join(parent, parent.id == Reply.reflection_id).where(
        policy.where(actor, Reply, "read"), Reply.withdrawn_at.is_(None),
        parent.withdrawn_at.is_(None), m.matches(Reply.body))
    if collaboration_id is not None:
        stmt = stmt.where(parent.collaboration_id == collaboration_id)
    return stmt


def _messages(actor: Actor, m: _Matcher, collaboration_id: int | None):
    """Messages of conversations the actor takes part in; the author's partner by their seat."""
    conversation = aliased(Conversation)  # kept apart from the policy's subqueries, as above
    seat_partner = select(Membership.partner_id).where(
        Membership.user_id == Message.author_id,
        Membership.collaboration_id == conversation.collaboration_id).scalar_subquery()
    stmt = select(
        literal_column("'message'"), Message.id, conversation.collaboration_id, _no_int(),
        Message.conversation_id, Message.created_at, Message.body, seat_partner,
        Message.author_id, m.rank(Message.body),
    ).join(conversation, conversation.id == Message.conversation_id).where(
        policy.where(actor, Message, "read"), m.matches(Message.body))
    if collaboration_id is not None:
        stmt = stmt.where(conversation.collaboration_id == collaboration_id)
    return stmt


# -- results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Hit:
    """One found item: what it is, where it lives, who said it (if shown), and an excerpt."""

    kind: str  # "reflection", "reply" or "message"
    id: int
    collaboration_id: int
    collaboration_title: str
    reflection_id: int | None
    conversation_id: int | None
    subject: str | None  # the conversation's subject, for a message
    created_at: datetime
    partner: str | None  # the organization it was said for
    author: str | None  # None when the author chose to sign with the organization only
    excerpt: Markup


@dataclass(frozen=True)
class SearchPage:
    query: str
    hits: list[Hit]
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.page_size)


def search(actor: Actor, q: str, collaboration: Collaboration | None = None, *,
           page: int = 1, page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of what the actor may read matching q, best first (in one collaboration, or
    in all of the actor's): two queries, a count and the page."""
    q = clean_query(q)
    page, page_size = max(1, page), max(1, min(page_size, PAGE_SIZE_MAX))
    if not q:
        return SearchPage(q, [], page, page_size, 0)
    m = _matcher(q)
    scope = collaboration.id if collaboration is not None else None
    found = union_all(_reflections(actor, m, scope), _replies(actor, m, scope),
                      _messages(actor, m, scope)).subquery("found")
    total = db.session.scalar(select(func.count()).select_from(found))
    rows = db.session.execute(_page_of(found, page, page_size)).all() if total else []
    words = list(m.words)
    hits = [_hit(row, words) for row in rows]
    _note_reads(hits)
    return SearchPage(q, hits, page, page_size, total)


def _note_reads(hits: list[Hit]) -> None:
    """Plain rows load no objects, so the audit is told what the excerpts showed."""
    for kind in KINDS:
        audit.note_reads(kind, [hit.id for hit in hits if hit.kind == kind])


def _page_of(found, page: int, page_size: int):
    """The page's rows with the names shown beside them (organization, author, space)."""
    author = aliased(User)
    return (
        select(found, Organization.name.label("partner"), author.display_name.label("author"),
               Collaboration.title.label("collaboration_title"),
               Conversation.subject.label("subject"))
        .join(Collaboration, Collaboration.id == found.c.collaboration_id)
        .outerjoin(Partner, Partner.id == found.c.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .outerjoin(author, author.id == found.c.author_id)
        .outerjoin(Conversation, Conversation.id == found.c.conversation_id)
        .order_by(found.c.rank.desc(), found.c.created_at.desc(), found.c.kind,
                  found.c.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    )


def _hit(row, words: list[str]) -> Hit:
    return Hit(kind=row.kind, id=row.id, collaboration_id=row.collaboration_id,
               collaboration_title=row.collaboration_title, reflection_id=row.reflection_id,
               conversation_id=row.conversation_id, subject=row.subject,
               created_at=row.created_at, partner=row.partner, author=row.author,
               excerpt=excerpt(row.body, words))


# -- excerpts -------------------------------------------------------------------------------

def plain_text(body: str) -> str:
    """What a reader sees of a Markdown body, as one line of text (no markup at all)."""
    return render_markdown(body).striptags()


def _pattern(words: list[str], whole: bool) -> re.Pattern | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    if whole:
        alternatives = rf"(?<!\w)(?:{alternatives})(?!\w)"
    return re.compile(alternatives, re.IGNORECASE)


def excerpt(body: str, words: list[str], length: int = EXCERPT_LENGTH) -> Markup:
    """A window of the text around the first matching word, escaped, the words in <mark>."""
    text = plain_text(body)
    pattern = _pattern(words, whole=True)
    if pattern is not None and not pattern.search(text):
        pattern = _pattern(words, whole=False)  # SQLite also matches inside a word
    first = pattern.search(text) if pattern is not None else None
    start, end = _window(text, first.start() if first else 0, length)
    window = text[start:end]
    marked = _marked(window, pattern) if pattern is not None else escape(window)
    return Markup("{}{}{}").format("…" if start else "", marked, "…" if end < len(text) else "")


def _window(text: str, at: int, length: int) -> tuple[int, int]:
    """About `length` characters of text with position `at` in its first third, cut at
    spaces where there are some."""
    start = max(0, at - length // 3)
    if start:
        space = text.find(" ", start, at)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + length)
    if end < len(text):
        space = text.rfind(" ", at, end)
        end = space if space > at else end
    return start, end


def _marked(text: str, pattern: re.Pattern) -> Markup:
    """Escape everything; only the <mark> tags around the matches are markup."""
    out, last = Markup(""), 0
    for match in pattern.finditer(text):
        out += escape(text[last:match.start()])
        out += Markup("<mark>{}</mark>").format(match.group())
        last = match.end()
    return out + escape(text[last:])
