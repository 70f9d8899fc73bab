"""Search what a member may read: every candidate is filtered by the policy in SQL.

One UNION of three selects (reflections, replies, messages), each restricted by
policy.where(actor, Model, "read") and by the text match, and each cut to its newest BOUND + 1
rows; of these, the newest BOUND are counted (one more says "more than BOUND"), ranked and cut
into pages in the database, and only the page's rows come back (search()). Older matches come
in sets of their own, after the Mark of the previous set's oldest. Both databases read the
query the same way, as PostgreSQL's websearch_to_tsquery does: words (all required), "quoted
phrases", OR between alternatives, -word or -"phrase" to leave out; best first, then newest.

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

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from coprod import policy
from coprod.accounts.models import User
from coprod.citizens import audit
from coprod.citizens.models import CitizenReference
from coprod.common import OperationError
from coprod.extensions import db
from coprod.markdown import render_markdown
from coprod.messages.models import Conversation, Message
from coprod.policy import Actor, kept
from coprod.readonly import PLAN_EACH_TIME
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
    so on. The GIN index is scanned once, for the query of any language (the arms' queries
    OR-ed: every row an arm matches matches it), and the arms check what it found: one
    scan, not one per language, whose cost the planner weighs against walking the newest
    rows (four scans looked dearer than a sequential scan). SQLite matches the row's id
    against its FTS5 table and ranks with bm25()."""

    q: str
    words: tuple[str, ...]
    fulltext: bool

    def matches(self, model, walk: bool = False):
        """SQL: the row matches the query. On PostgreSQL, for an arm that walks the newest
        rows (`walk`), the language arms only: with the GIN index's condition too, the
        planner multiplies two estimates of one fact, takes a common word for a rare one
        and reads every match by the index after all. Each language arm compares the
        vector with its own language's query, which a plan made for the words holds as a
        constant, so PostgreSQL estimates it from the vectors' statistics: as one match of
        a CASE on the language it took the default (a match in 200 rows), and at 10,000
        reflections, thinking fewer rows match than the page needs, it read and sorted
        every match of a common word instead of walking the newest (21 ms against 9)."""
        if self.fulltext:
            vector = search_vector(model)
            in_its_language = or_(*[and_(condition, vector.bool_op("@@")(tsquery))
                                    for condition, tsquery in self._per_language(model)])
            if walk:
                return in_its_language
            return and_(self.indexed(model), in_its_language)
        required, excluding = self.fts5
        fts = _fts(model)
        arms = [model.id.in_(_fts_rows(fts, bindparam("search_required")))] if required else []
        arms += [model.id.not_in(_fts_rows(fts, bindparam(f"search_excluding_{i}")))
                 for i in range(len(excluding))]
        return or_(false(), *arms)

    @cached_property
    def fts5(self) -> tuple[str | None, list[str]]:
        return fts5_expressions(self.q)

    def shape(self) -> tuple:
        """What the SQL of a search depends on in the query; the rest are bound values
        (params()), so one statement serves every query of a shape."""
        if self.fulltext:
            return ("fulltext",)
        required, excluding = self.fts5
        return ("fts5", required is not None, len(excluding))

    def params(self) -> dict:
        """The query's bound values."""
        if self.fulltext:
            return {"search_q": self.q}
        required, excluding = self.fts5
        return {"search_required": required,
                **{f"search_excluding_{i}": unwanted for i, unwanted in enumerate(excluding)}}

    @cached_property
    def tsqueries(self) -> list:
        """websearch_to_tsquery(configuration, q) for each language with a configuration of
        its own, and last the one of all the others (built once, shared by every arm)."""
        q = bindparam("search_q", type_=String())
        return [func.websearch_to_tsquery(config_of(code), q) for code in [*CONFIGS, ""]]

    @cached_property
    def any_language(self):
        """The query in every language, OR-ed: every row an arm matches matches it."""
        any_language = self.tsqueries[0]
        for tsquery in self.tsqueries[1:]:
            any_language = any_language.op("||")(tsquery)
        return any_language

    def indexed(self, model):
        """PostgreSQL: search_vector @@ the query in any language, which the GIN index
        answers in one scan; true of every row that matches (and of a few more)."""
        return search_vector(model).bool_op("@@")(self.any_language)

    def common(self, scope_is_all: bool, bound: int, params: dict) -> dict:
        """Whether the words are common in each kind's texts of the scope, which chooses
        the plan of its arm (see _newest_of), from counts no one sees (whoever may read the
        texts), each stopping early: more than `bound` texts match, in any collaboration
        (no join, which hashed every reflection for the replies), and then SAMPLE_COMMON or
        more of the scope's SAMPLE newest do (read by the index on created_at). The statement
        is planned for its words each time (PLAN_EACH_TIME): PostgreSQL's statistics of the
        search vectors tell a common word, whose count reads rows until `bound` + 1 match,
        from a word in few texts or none, counted by the GIN index. Counted from a
        MATERIALIZED CTE, every match came from the GIN index first, its whole bitmap built:
        17,000 of "minibus" in each of reflections and replies at 100,000 reflections, 20 ms
        of a search where the count now takes 8 (bench_100k, with its planning). Whether
        the scope's newest rows hold enough matches, the arm's plan, PostgreSQL's planner
        cannot tell: it takes matches to be spread evenly. None where nothing matches at all
        (no arm to search). SQLite: no count (its planner starts from FTS5)."""
        if not self.fulltext:
            return {model: True for model in ARMS}
        found = db.session.execute(STATEMENTS.get(("common", self.shape(), scope_is_all, bound),
                                         lambda: self._counts(scope_is_all, bound)),
                                   params).one()
        return {model: None if not found[2 * i] else found[2 * i + 1] >= SAMPLE_COMMON
                for i, model in enumerate(ARMS)}

    def _counts(self, scope_is_all: bool, bound: int):
        """The statement of common(): two counts per kind."""
        counts = []
        for model in ARMS:
            scoped = _scoped(model, scope_is_all)
            matching = select(model.id).where(self.indexed(model)).limit(_n(bound + 1))
            newest = (scoped.add_columns(search_vector(model).label("vector"))
                      .order_by(model.created_at.desc()).limit(_n(SAMPLE)).subquery())
            often = _count(select(literal(1)).select_from(newest).where(
                newest.c.vector.bool_op("@@")(self.any_language)).limit(_n(SAMPLE_COMMON)))
            counts += [_count(matching), case((_count(matching) > bound, often), else_=0)]
        return select(*counts).execution_options(**PLAN_EACH_TIME)

    def rank(self, model):
        if self.fulltext:
            return cast(func.ts_rank(search_vector(model), self._in_its_language(model)), Float)
        required, _excluding = self.fts5
        if required is None:
            return cast(literal(0.0), Float)
        fts = _fts(model)
        # bm25() is lower for a better match; 0 for a row found by an excluding alternative
        bm25 = (select(func.bm25(literal_column(fts.name))).select_from(fts)
                .where(literal_column(fts.name).op("MATCH")(bindparam("search_required")),
                       fts.c.rowid == model.id).scalar_subquery())
        return cast(-func.coalesce(bm25, 0.0), Float)

    def _in_its_language(self, model):
        """SQL: the query in the row's language (a CASE on its language column)."""
        *arms, (_others, other) = self._per_language(model)
        return case(*arms, else_=other)

    def _per_language(self, model) -> list[tuple]:
        """(the row's language is L, websearch_to_tsquery(L's configuration, q)), for each
        language with a configuration of its own, and last for all the others."""
        conditions = [model.language == code for code in CONFIGS]
        return list(zip([*conditions, model.language.not_in(list(CONFIGS))], self.tsqueries,
                        strict=True))


def _n(number: int):
    """A LIMIT written into the statement, not bound. A request that only read commits, so
    psycopg prepares a statement run five times, and PostgreSQL may then plan it once for any
    values (a generic plan), taking a bound LIMIT to keep a tenth of the rows: for the page's
    statement that plan read every match of a common word (39 ms against 13 ms, bench_100k).
    With the limits written in, the generic plan walks as few rows as one made for the words
    ("minibus", "driver", "late", "minibus late": 13-30 ms, where plans made for each
    request's words took 16-38 ms with their planning). A page with an arm that walks is
    now planned for its words each time (_statements): at 10,000 reflections the generic
    plan read every match again."""
    return literal_column(str(int(number)))


def _count(rows):
    """SELECT count(*) of some rows, as a value."""
    return select(func.count()).select_from(rows.subquery()).scalar_subquery()


def _fts(model):
    return table(fts_table(model.__tablename__), column("rowid"))


def _fts_rows(fts, expression):
    return select(fts.c.rowid).where(literal_column(fts.name).op("MATCH")(expression))


def _matcher(q: str) -> _Matcher:
    fulltext = db.session.get_bind().dialect.name == "postgresql"
    return _Matcher(q, tuple(query_words(q)), fulltext)


# -- the candidates, each through the policy ------------------------------------------------

def _no_int():
    return cast(null(), Integer)


def _columns(kind: str, id_, collaboration_id, reflection_id, conversation_id, created_at,
             body, partner_id, author_id, rank) -> list:
    """One arm's columns, named alike in every arm."""
    return [literal_column(f"'{kind}'").label("kind"), id_.label("id"),
            collaboration_id.label("collaboration_id"), reflection_id.label("reflection_id"),
            conversation_id.label("conversation_id"), created_at.label("created_at"),
            body.label("body"), partner_id.label("partner_id"), author_id.label("author_id"),
            rank.label("rank")]


def _in_scope():
    """The collaboration searched in, bound when the statement runs."""
    return bindparam("search_collaboration", type_=Integer())


def _reflections(actor: Actor, m: _Matcher, scope_is_all: bool, walk: bool):
    """Readable, not withdrawn reflections (their author is asked for the page's rows only,
    in _shown_author)."""
    stmt = select(*_columns(
        "reflection", Reflection.id, Reflection.collaboration_id, Reflection.id, _no_int(),
        Reflection.created_at, Reflection.body, Reflection.partner_id, _no_int(),
        m.rank(Reflection),
    )).where(policy.where(actor, Reflection, "read"), Reflection.withdrawn_at.is_(None),
             m.matches(Reflection, walk))
    if not scope_is_all:
        stmt = stmt.where(Reflection.collaboration_id == _in_scope())
    return stmt


def _replies(actor: Actor, m: _Matcher, scope_is_all: bool, walk: bool):
    """Readable replies, neither they nor their reflection withdrawn (their author: see
    _shown_author)."""
    parent = _PARENT
    stmt = select(*_columns(
        "reply", Reply.id, parent.collaboration_id, Reply.reflection_id, _no_int(),
        Reply.created_at, Reply.body, Reply.partner_id, _no_int(), m.rank(Reply),
    )).join(parent, parent.id == Reply.reflection_id).where(
        policy.where(actor, Reply, "read"), Reply.withdrawn_at.is_(None),
        parent.withdrawn_at.is_(None), m.matches(Reply, walk))
    if not scope_is_all:
        stmt = stmt.where(parent.collaboration_id == _in_scope())
    return stmt


def _messages(actor: Actor, m: _Matcher, scope_is_all: bool, walk: bool):
    """Messages of conversations the actor takes part in; the author's partner by their seat."""
    conversation = _CONVERSATION
    seat_partner = select(Membership.partner_id).where(
        Membership.user_id == Message.author_id,
        Membership.collaboration_id == conversation.collaboration_id).scalar_subquery()
    stmt = select(*_columns(
        "message", Message.id, conversation.collaboration_id, _no_int(),
        Message.conversation_id, Message.created_at, Message.body, seat_partner,
        Message.author_id, m.rank(Message),
    )).join(conversation, conversation.id == Message.conversation_id).where(
        policy.where(actor, Message, "read"), m.matches(Message, walk))
    if not scope_is_all:
        stmt = stmt.where(conversation.collaboration_id == _in_scope())
    return stmt


ARMS = {Reflection: _reflections, Reply: _replies, Message: _messages}

# Aliases, so that the policy's subqueries on `reflections` and `conversations` do not
# correlate with the arms' joins. Made once: an alias proxies every column of its table,
# which cost a search page a tenth of its time when made per request.
_PARENT = aliased(Reflection, name="search_parent")
_CONVERSATION = aliased(Conversation, name="search_conversation")
_AUTHOR = aliased(User, name="search_author")


def _scoped(model, scope_is_all: bool):
    """A select from a searchable table, of the rows in the collaboration searched in (or
    in all)."""
    rows = select().select_from(model)
    if scope_is_all:
        return rows
    if model is Reflection:
        return rows.where(Reflection.collaboration_id == _in_scope())
    if model is Reply:
        parent = _PARENT
        return rows.join(parent, parent.id == Reply.reflection_id).where(
            parent.collaboration_id == _in_scope())
    conversation = _CONVERSATION
    return rows.join(conversation, conversation.id == Message.conversation_id).where(
        conversation.collaboration_id == _in_scope())


# -- the bounded set: the newest matches, ranked ---------------------------------------------

BOUND = 200  # the newest matches a search ranks and pages through (ten pages); beyond, "200+"


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MARK = re.compile(r"([0-9]{1,16})\.(reflection|reply|message)\.([0-9]{1,10})")


@dataclass(frozen=True)
class Mark:
    """Where a set of results ends, for the next set ("older results"): the oldest item in
    it, in the order newest first, then kind, then id (newest first)."""

    created_at: datetime
    kind: str
    id: int

    def token(self) -> str:
        """For a link: <microseconds since 1970>.<kind>.<id>."""
        micros = (self.created_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.kind}.{self.id}"

    def params(self) -> dict:
        """Its bound values in a search's statement (see _before)."""
        return {"search_mark_at": self.created_at, "search_mark_id": self.id}

    @classmethod
    def parse(cls, token: str | None) -> Mark | None:
        """The mark of a link; None for none; a clear refusal for one that is no mark."""
        if not token:
            return None
        found = _MARK.fullmatch(token)
        if found is None:
            raise OperationError(_("This link to older results is not valid; search again."),
                                 field="q")
        micros, kind, id_ = found.groups()
        return cls(EPOCH + timedelta(microseconds=int(micros)), kind, int(id_))


def _before(mark_kind: str | None, kind: str, model):
    """The arm's rows after the mark (of kind `mark_kind`; its instant and id bound when the
    statement runs, Mark.params) in the order newest first, kind, id newest first."""
    if mark_kind is None:
        return true()
    at = bindparam("search_mark_at", type_=model.created_at.type)
    older = model.created_at < at
    if kind > mark_kind:  # at the mark's instant, later kinds come after it
        return or_(older, model.created_at == at)
    if kind == mark_kind:
        return or_(older, and_(model.created_at == at,
                               model.id < bindparam("search_mark_id", type_=Integer())))
    return older


# A word in more than BOUND texts of a kind, and in SAMPLE_COMMON of its newest SAMPLE (1 %)
# or more, is common there: its newest matches are found by walking the newest rows (200
# matches in about 20,000 rows at most); a rarer word's come from the GIN index, every match
# checked and sorted by age.
SAMPLE = 2000
SAMPLE_COMMON = 20


def _newest_of(arm, model, kind: str, mark_kind: str | None, limit: int, walk: bool):
    """An arm's newest `limit` rows. For a common word (`walk`), by the index on
    created_at: the newest rows are read until enough match (a word in a sixth of the
    texts: six rows a match). For a rarer one, every readable match, found by the GIN
    index, then the newest of them: a MATERIALIZED CTE keeps PostgreSQL from planning the
    walk, which would read every row of the collaboration for a word in a few of them."""
    arm = arm.where(_before(mark_kind, kind, model))
    if walk:
        newest = arm.order_by(model.created_at.desc(), model.id.desc()).limit(_n(limit)).subquery()
        return select(newest)
    every = arm.cte(f"{model.__tablename__}_found").prefix_with("MATERIALIZED")
    newest = (select(every).order_by(every.c.created_at.desc(), every.c.id.desc())
              .limit(_n(limit)).subquery())
    return select(newest)


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
    """One page of a set of results: the newest BOUND matches (after `after`, for older
    results), best first. `total` counts the set; `more` says that older matches exist
    beyond it, and `older` is the mark to ask for them."""

    query: str
    hits: list[Hit]
    page: int
    page_size: int
    total: int
    more: bool = False
    older: Mark | None = None
    after: Mark | None = None

    @property
    def total_pages(self) -> int:
        return -(-self.total // self.page_size)


def search(actor: Actor, q: str, collaboration: Collaboration | None = None, *,
           page: int = 1, page_size: int = PAGE_SIZE, after: Mark | None = None,
           bound: int | None = None) -> SearchPage:
    """One page of what the actor may read matching q (in one collaboration, or in all of
    the actor's): of the `bound` newest matches (older than `after`), best first.

    Two statements: how common the words are in each kind's texts (which chooses the plan,
    see _newest_of; a kind with no match at all is left out, and a search that matches
    nothing ends there), then each kind's newest matches, the newest `bound` of them
    counted (one more tells that there are more) and ranked, the page cut and the names
    joined to its rows. Ranking every match of a common word costs what the matches are (a
    sixth of 100,000 texts: about a second); the newest 200 cost what 200 are, however many
    match.
    """
    q = clean_query(q)
    page, page_size = max(1, page), max(1, min(page_size, PAGE_SIZE_MAX))
    bound = bound or BOUND
    if not q:
        return SearchPage(q, [], page, page_size, 0, after=after)
    m = _matcher(q)
    first = (page - 1) * page_size + 1
    params = {**m.params(), **(after.params() if after else {}),
              "search_collaboration": collaboration.id if collaboration is not None else None,
              "search_first": first, "search_last": first + page_size - 1}
    scope_is_all = collaboration is None
    walk = m.common(scope_is_all, bound, params)
    if all(walk[model] is None for model in ARMS):
        return SearchPage(q, [], page, page_size, 0, after=after)
    shape = (m.shape(), scope_is_all, tuple(walk[model] for model in ARMS),
             after.kind if after else None, bound)
    of_page, of_set = STATEMENTS.get(("page", kept.facts(actor), *shape),
                            lambda: _statements(actor, m, walk, *shape[1:]))
    rows = db.session.execute(of_page, params).all()
    hits_rows = [row for row in rows if row.place is not None]
    if rows:
        found = rows[0].found
    elif page > 1:  # past the last page: count the set, to say so
        found = db.session.scalar(of_set, params)
    else:
        found = 0
    older = next((Mark(row.created_at, row.kind, row.id) for row in rows
                  if row.nth == bound and found > bound), None)
    words = list(m.words)
    hits = [_hit(row, words) for row in hits_rows]
    _note_reads(hits_rows)
    return SearchPage(q, hits, page, page_size, min(found, bound), found > bound, older, after)


KIND_OF = {Reflection: "reflection", Reply: "reply", Message: "message"}


def _statements(actor: Actor, m: _Matcher, walk: dict, scope_is_all: bool, _walks: tuple,
                mark_kind: str | None, bound: int) -> tuple:
    """The page's statement and the count of the whole set (asked past the last page), for
    one shape of search; every value of a request is bound when they run."""
    # a kind none of whose texts matches (whoever may read them) has no arm to search
    arms = [_newest_of(arm(actor, m, scope_is_all, walk[model]), model, KIND_OF[model],
                       mark_kind, bound + 1, walk[model])
            for model, arm in ARMS.items() if walk[model] is not None]
    matches = union_all(*arms).subquery("matches")
    statements = (_page_of(actor, matches, bound),
                  select(func.count()).select_from(_newest(matches, bound).subquery()))
    if not any(walk.values()):
        return statements
    # A plan for any words (generic) cannot tell a common word: it read every match again
    # (at 10,000 reflections: 17 ms against 9 for a plan made for the words).
    return tuple(statement.execution_options(**PLAN_EACH_TIME) for statement in statements)


# -- statements kept per process ------------------------------------------------------------

# A search's statements, kept per process by their shape (coprod/policy/kept.py): the
# searcher's policy facts, which kinds have matches and how common they are, a mark's kind;
# the query, the collaboration, the mark and the page are bound when they run. Building them
# through the policy, then SQLAlchemy's walk of them for its compiled cache's key, cost a
# search about a third of its time.
STATEMENTS = kept.Kept(maxsize=256)


def _note_reads(rows) -> None:
    """Plain rows load no objects, so the audit is told what the excerpts showed: the rows
    about a citizen (the page's statement says which), so that a page of hits about no one
    costs the audit no query."""
    for kind in KINDS:
        audit.note_reads(kind, [row.id for row in rows if row.kind == kind and row.about_citizen])


def _age_order(rows):
    return (rows.c.created_at.desc(), rows.c.kind, rows.c.id.desc())


def _rank_order(rows):
    return (rows.c.rank.desc(), *_age_order(rows))


def _newest(matches, bound: int):
    """The newest bound + 1 matches of every kind (the one more tells there are more)."""
    return select(matches).order_by(*_age_order(matches)).limit(_n(bound + 1))


def _page_of(actor: Actor, matches, bound: int):
    """The page's rows, best first, with the names shown beside them (organization, author,
    space), and the set's oldest row (its mark, for older results) when there are more.

    Each row says how many the set has (`found`, up to bound + 1), its place in age order
    (`nth`) and in rank order (`place`; None for the mark's row when it is not on the
    page). The author and the names are looked up for the rows kept only."""
    newest = _newest(matches, bound).subquery("newest")
    counted = select(newest, func.row_number().over(order_by=_age_order(newest)).label("nth"),
                     func.count().over().label("found")).subquery("counted")
    ranked = (select(counted, func.row_number().over(order_by=_rank_order(counted))
                     .label("place"))
              .where(counted.c.nth <= bound).subquery("ranked"))
    on_page = ranked.c.place.between(bindparam("search_first", type_=Integer()),
                                     bindparam("search_last", type_=Integer()))
    kept = (select(*[c for c in ranked.c if c.name not in ("place", "author_id")],
                   case((on_page, ranked.c.place), else_=_no_int()).label("place"),
                   _shown_author(actor, ranked).label("author_id"),
                   _about_citizen(ranked).label("about_citizen"))
            .where(or_(on_page, and_(ranked.c.nth == bound, ranked.c.found > bound)))
            .subquery("kept"))
    author = _AUTHOR
    return (
        select(kept, Organization.name.label("partner"), author.display_name.label("author"),
               Collaboration.title.label("collaboration_title"),
               Conversation.subject.label("subject"))
        .join(Collaboration, Collaboration.id == kept.c.collaboration_id)
        .outerjoin(Partner, Partner.id == kept.c.partner_id)
        .outerjoin(Organization, Organization.id == Partner.organization_id)
        .outerjoin(author, author.id == kept.c.author_id)
        .outerjoin(Conversation, Conversation.id == kept.c.conversation_id)
        .order_by(kept.c.place)
    )


def _about_citizen(rows):
    """Whether a row references a citizen (by the unique index of each kind's column)."""
    reference = CitizenReference
    return case(
        (rows.c.kind == "reflection", exists().where(reference.reflection_id == rows.c.id)),
        (rows.c.kind == "reply", exists().where(reference.reply_id == rows.c.id)),
        else_=exists().where(reference.message_id == rows.c.id))


def _shown_author(actor: Actor, rows):
    """The author of a row where the policy's read_author allows (not the author who signed
    with the organization); a message's author, always. Asked per kept row, by primary key:
    in the arms, read_author over every candidate cost PostgreSQL a hashed set of every
    readable reflection (about 100 ms at 100,000). The rows passed the read rule in their
    arm, so only what read_author adds is asked (policy.where_given): with the read rule
    written again here, planning the page took 4 ms of PostgreSQL's 8 (bench_100k)."""
    of_reflection = select(Reflection.author_id).where(
        Reflection.id == rows.c.id,
        policy.where_given(actor, Reflection, "read_author")).scalar_subquery()
    of_reply = select(Reply.author_id).where(
        Reply.id == rows.c.id,
        policy.where_given(actor, Reply, "read_author")).scalar_subquery()
    return case((rows.c.kind == "reflection", of_reflection),
                (rows.c.kind == "reply", of_reply), else_=rows.c.author_id)


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
    if text.isascii():  # most texts, and every query word in English
        return text
    return "".join(map(_unaccented_char, text))


@functools.lru_cache(maxsize=4096)
def _unaccented_char(char: str) -> str:
    base, *marks = unicodedata.normalize("NFD", char)
    return base if all(unicodedata.combining(m) for m in marks) else char


@functools.lru_cache(maxsize=256)
def _pattern(words: tuple[str, ...], whole: bool) -> re.Pattern | None:
    """The query's words as one pattern (made once for a page's excerpts)."""
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
    pattern = _pattern(tuple(words), whole=True)
    if pattern is not None and not pattern.search(folded):
        pattern = _pattern(tuple(words), whole=False)  # a stem or a prefix matched part of a word
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
