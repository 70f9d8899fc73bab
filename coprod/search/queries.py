"""Search what a member may read: every candidate is filtered by the policy in SQL.

One UNION of three selects (reflections, replies, messages), each restricted by
policy.where(actor, Model, "read") and by the text match, is counted and cut into pages in
the database; only the page's rows come back. Both databases read the query the same way,
as PostgreSQL's websearch_to_tsquery does: words (all required), "quoted phrases", OR between
alternatives, -word or -"phrase" to leave out; best first, then newest.

PostgreSQL matches each text in its own language (coprod/search/__init__.py), with the
GIN-indexed stored search_vector against websearch_to_tsquery(<that language's
configuration>, q), and ranks with ts_rank. SQLite translates the query into an FTS5 MATCH
expression in which every term is quoted (whatever the user typed, FTS5's own syntax, NEAR,
col:, ^, *, never reaches it, and no query is an FTS5 syntax error) and ranks with bm25().
FTS5's tokenizer there is unicode61 with diacritics removed: language-neutral, as the texts
are English, Danish and Finnish in one table (porter stems English only and would mangle the
others); instead of stemming, a bare word of PREFIX_MIN letters or more also finds the words
it begins ("morning" finds "mornings", "kirjasto" "kirjastoissa"), which suits these three
languages' suffixes; a phrase is matched exactly.

Excerpts are made in Python from the Markdown's plain text, the same on both databases (a
ts_headline over the raw Markdown would show its syntax): the text is escaped and only the
<mark> around the query's words is markup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import (
    Float,
    Integer,
    and_,
    case,
    cast,
    column,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
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
from coprod.search import CONFIGS, config_of, fts_table, search_vector
from coprod.spaces.models import Collaboration, Membership, Organization, Partner

QUERY_MAX = 200
PAGE_SIZE = 20
PAGE_SIZE_MAX = 100
EXCERPT_LENGTH = 240
KINDS = ("reflection", "reply", "message")

_WORD = re.compile(r"\w+")


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


# -- the query's syntax, read as websearch_to_tsquery reads it -------------------------------

@dataclass(frozen=True)
class Term:
    text: str  # a word, or the words of a "quoted phrase"
    phrase: bool
    excluded: bool  # -word or -"phrase"


_TERM = re.compile(r'(-?)(?:"([^"]*)"?|([^\s"]+))')


def parse_query(q: str) -> list[list[Term]]:
    """The query as alternatives (separated by OR) of terms all required (or, -excluded,
    all absent). Quotes left open run to the end; terms without a word are dropped."""
    groups: list[list[Term]] = [[]]
    for match in _TERM.finditer(q):
        minus, phrase, bare = match.groups()
        if bare is not None and not minus and bare.casefold() == "or":
            groups.append([])
            continue
        content = phrase if phrase is not None else bare
        if any(char.isalnum() for char in content):  # "_" alone: no word to look for
            groups[-1].append(Term(" ".join(content.split()), phrase is not None, bool(minus)))
    return [group for group in groups if group]


# -- matching, per database -----------------------------------------------------------------

PREFIX_MIN = 4  # SQLite: a bare word this long also finds the words it begins


def _fts5_string(term: Term) -> str:
    """A term as an FTS5 string: always quoted (nothing the user typed is FTS5 syntax: no
    NEAR, column filter, ^ or *), a bare word of PREFIX_MIN letters or more as a prefix."""
    quoted = '"' + term.text.replace('"', '""') + '"'
    if not term.phrase and len(term.text) >= PREFIX_MIN and term.text[-1:].isalnum():
        return quoted + " *"
    return quoted


def fts5_expressions(q: str) -> tuple[str | None, list[str]]:
    """An FTS5 MATCH expression for the alternatives that require something, and one per
    alternative that only excludes (FTS5 cannot say "everything but": those rows are the
    ones that do not match it)."""
    required, excluding = [], []
    for group in parse_query(q):
        wanted = [_fts5_string(t) for t in group if not t.excluded]
        unwanted = " OR ".join(_fts5_string(t) for t in group if t.excluded)
        if wanted:
            expression = "(" + " AND ".join(wanted) + ")"
            required.append(f"({expression} NOT ({unwanted}))" if unwanted else expression)
        else:
            excluding.append(unwanted)
    return (" OR ".join(required) or None), excluding


@dataclass(frozen=True)
class _Matcher:
    """How one database tells whether a model's row matches the query, and how well.

    PostgreSQL matches each text in its own language: one arm per language, the text's
    language = 'en' and search_vector @@ websearch_to_tsquery('coprod_english', q), and
    so on; each arm is a scan of the GIN index (PostgreSQL ORs their bitmaps). SQLite matches
    the row's id against its FTS5 table and ranks with bm25()."""

    q: str
    words: tuple[str, ...]
    fulltext: bool

    def matches(self, model):
        if self.fulltext:
            vector = search_vector(model)
            return or_(*[and_(condition, vector.bool_op("@@")(tsquery))
                         for condition, tsquery in self._per_language(model)])
        required, excluding = fts5_expressions(self.q)
        fts = _fts(model)
        arms = [model.id.in_(_fts_rows(fts, required))] if required else []
        arms += [model.id.not_in(_fts_rows(fts, unwanted)) for unwanted in excluding]
        return or_(false(), *arms)

    def rank(self, model):
        if self.fulltext:
            return cast(func.ts_rank(search_vector(model),
                                     case(*self._per_language(model)[:-1],
                                          else_=self._per_language(model)[-1][1])), Float)
        required, _excluding = fts5_expressions(self.q)
        if required is None:
            return cast(literal(0.0), Float)
        fts = _fts(model)
        # bm25() is lower for a better match; 0 for a row found by an excluding alternative
        bm25 = (select(func.bm25(literal_column(fts.name))).select_from(fts)
                .where(literal_column(fts.name).op("MATCH")(required),
                       fts.c.rowid == model.id).scalar_subquery())
        return cast(-func.coalesce(bm25, 0.0), Float)

    def _per_language(self, model) -> list[tuple]:
        """(the row's language is L, websearch_to_tsquery(L's configuration, q)), for each
        language with a configuration of its own, and last for all the others."""
        arms = [(model.language == code, func.websearch_to_tsquery(config_of(code), self.q))
                for code in CONFIGS]
        return [*arms, (model.language.not_in(list(CONFIGS)),
                        func.websearch_to_tsquery(config_of(""), self.q))]


def _fts(model):
    return table(fts_table(model.__tablename__), column("rowid"))


def _fts_rows(fts, expression: str):
    return select(fts.c.rowid).where(literal_column(fts.name).op("MATCH")(expression))


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
        m.rank(Reflection).label("rank"),
    ).where(policy.where(actor, Reflection, "read"), Reflection.withdrawn_at.is_(None),
            m.matches(Reflection))
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
        m.rank(Reply),
    ).join(parent, parent.id == Reply.reflection_id).where(
        policy.where(actor, Reply, "read"), Reply.withdrawn_at.is_(None),
        parent.withdrawn_at.is_(None), m.matches(Reply))
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
        Message.author_id, m.rank(Message),
    ).join(conversation, conversation.id == Message.conversation_id).where(
        policy.where(actor, Message, "read"), m.matches(Message))
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
    candidates = [_reflections(actor, m, scope), _replies(actor, m, scope),
                  _messages(actor, m, scope)]
    total = db.session.scalar(select(func.count()).select_from(
        union_all(*[_counted(c) for c in candidates]).subquery()))
    found = union_all(*candidates).subquery("found")
    rows = db.session.execute(_page_of(found, page, page_size)).all() if total else []
    words = list(m.words)
    hits = [_hit(row, words) for row in rows]
    _note_reads(hits)
    return SearchPage(q, hits, page, page_size, total)


def _counted(candidates):
    """The same rows with nothing but a constant: counting needs no rank nor author."""
    return candidates.with_only_columns(literal(1), maintain_column_froms=True)


def _note_reads(hits: list[Hit]) -> None:
    """Plain rows load no objects, so the audit is told what the excerpts showed."""
    for kind in KINDS:
        audit.note_reads(kind, [hit.id for hit in hits if hit.kind == kind])


def _page_of(found, page: int, page_size: int):
    """The page's rows with the names shown beside them (organization, author, space): the
    page is cut first, so the names are joined to its rows only, not to every match."""
    order = (found.c.rank.desc(), found.c.created_at.desc(), found.c.kind, found.c.id.desc())
    cut = (select(found).order_by(*order).limit(page_size).offset((page - 1) * page_size)
           .subquery("cut"))
    author = aliased(User)
    return (
        select(cut, Organization.name.label("partner"), author.display_name.label("author"),
               Collaboration.title.label("collaboration_title"),
               Conversation.subject.label("subject"))
        .join(Collaboration, Collaboration.id == cut.c.collaboration_id)
        .outerjoin(Partner, Partner.id == cut.c.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .outerjoin(author, author.id == cut.c.author_id)
        .outerjoin(Conversation, Conversation.id == cut.c.conversation_id)
        .order_by(cut.c.rank.desc(), cut.c.created_at.desc(), cut.c.kind, cut.c.id.desc())
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


def _unaccented(text: str) -> str:
    """The text with accents taken off its letters (é -> e, ö -> o; æ, ø stay), one character
    for one, so that positions in it are positions in the text."""
    out = []
    for char in text:
        base, *marks = unicodedata.normalize("NFD", char)
        out.append(base if all(unicodedata.combining(m) for m in marks) else char)
    return "".join(out)


def _pattern(words: list[str], whole: bool) -> re.Pattern | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(_unaccented(w))
                            for w in sorted(words, key=len, reverse=True))
    if whole:
        alternatives = rf"(?<!\w)(?:{alternatives})(?!\w)"
    return re.compile(alternatives, re.IGNORECASE)


def excerpt(body: str, words: list[str], length: int = EXCERPT_LENGTH) -> Markup:
    """A window of the text around the first matching word, escaped, the words in <mark>
    (accents do not count, as in the search)."""
    text = plain_text(body)
    folded = _unaccented(text)
    pattern = _pattern(words, whole=True)
    if pattern is not None and not pattern.search(folded):
        pattern = _pattern(words, whole=False)  # a stem or a prefix matched part of a word
    first = pattern.search(folded) if pattern is not None else None
    start, end = _window(text, first.start() if first else 0, length)
    window = text[start:end]
    marked = (_marked(window, folded[start:end], pattern) if pattern is not None
              else escape(window))
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


def _marked(text: str, folded: str, pattern: re.Pattern) -> Markup:
    """Escape everything; only the <mark> tags around the matches (found in the unaccented
    text, marked in the text) are markup."""
    out, last = Markup(""), 0
    for match in pattern.finditer(folded):
        out += escape(text[last:match.start()])
        out += Markup("<mark>{}</mark>").format(text[match.start():match.end()])
        last = match.end()
    return out + escape(text[last:])
