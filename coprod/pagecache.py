"""Pages a member reads again and again, answered without being rebuilt while nothing they
show can have changed.

The feed, a reflection's page and the API's list of reflections are read far more often
than anything is written: a municipality's staff open them many times a day. Building one
costs tens of milliseconds of policy, ORM and template work; answering it again from a
worker's memory costs one query. What a page shows depends on:

- **what is stored.** Every transaction that writes a row of a table pages read ends by
  giving the installation's `page_epoch` row a new random token, in that transaction and
  just before its COMMIT (Session `before_commit`; the row lock is the last one a writer
  takes, so writers never wait on each other in a cycle), or with its last write when that
  write says so (`write_last`: a post's INSERT changes the token in the same statement).
  Writes are seen on the connection, statement by statement, so no write path can forget to
  say so. Tables no cached page reads (the audit, feed visits, log-ins' last use, tokens'
  last use, consent frictions, theme vectors) do not change the token. Any other write
  does, so the cache is coarse, and every page is rebuilt after any change anywhere:
  correct before clever.
- **time**: consent periods start and end by themselves. The next start or end of any
  consent is read with the token (two index lookups) and is part of the key, so a page never
  outlives the consent that let it show a citizen's content. The quarter of an hour is part
  of it too (a collaboration's day, which marks overdue actions, turns at a quarter in every
  zone).
- **the reader**: their user and log-in (or API token), language, time zone, the session's
  CSRF token (forms in the page carry it), and their last visit to the collaboration's feed,
  which marks unread reflections and counts the tab's badge. The visit counts only while
  something was written after it; once the visit is later than the last write, nothing can
  be unread, and the page is the same whenever the reader comes back.

A request reads the token before anything else, so whatever it builds is at least as new as
the token it is stored under: a GET reads it (with the feed visit and the consent boundary)
in the very statement that finds who the reader is, the log-in's or the API token's
(`with_state`), so a page answered again costs that one statement. A page is kept only when
it answered 200, wrote nothing, left the session unchanged and showed no flashed message; a
request whose connection holds a write not yet committed, or whose session holds unflushed
changes, neither reads nor fills the cache. A page that showed citizen-referencing content
keeps the ids it showed: a page answered from the cache notes the same reads, so the audit
records every reading (and writes nothing for pages that show none). Small values every page
shows (the header's unread badge, a space's tab badges) are kept the same way, per user
(`kept_value`). Set PAGE_CACHE_BYTES to 0 to turn the cache off.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps

from cachetools import LRUCache
from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_login import current_user
from sqlalchemy import (
    BigInteger,
    Integer,
    bindparam,
    event,
    func,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from coprod.common import UTCDateTime, utcnow
from coprod.direct import Direct
from coprod.extensions import db
from coprod.i18n import select_locale, select_timezone
from coprod.readonly import WHOLE_ALONE, only_reads

# Tables whose rows no cached page shows: writing them leaves the token as it was.
UNSHOWN_TABLES = frozenset({
    "page_epoch", "audit_events", "feed_visits", "user_sessions", "api_tokens",
    "consent_frictions", "reflection_vectors",
})
_CHANGED = "coprod_changed_pages"  # connection.info: this transaction wrote something shown
_WRITE_TARGET = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
QUARTER_HOUR = 900
_lock = threading.Lock()  # cachetools' caches are not thread-safe; gunicorn runs threads


# The one row's id, written into the SQL of the statements that read or change it (every
# page's first statement, every post's INSERT) rather than bound and sent with each.
THE_ROW = literal_column("1", Integer)


class PageEpoch(db.Model):
    """One row: a token that changes whenever something a cached page shows was written."""

    __tablename__ = "page_epoch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


# -- what changed -------------------------------------------------------------------------

def _note_write(conn, cursor, statement, parameters, context, executemany) -> None:
    """before_cursor_execute: a statement that writes a table pages read marks the
    transaction. Anything not recognisably a read or a write of an unshown table counts."""
    if only_reads(statement) or statement.lstrip()[:6].upper().startswith(
            ("SAVEPO", "RELEAS", "ROLLBA", "BEGIN", "SHOW", "SET ", "PRAGMA")):
        return
    match = _WRITE_TARGET.match(statement)
    if match is not None and match.group(1).lower() in UNSHOWN_TABLES:
        return
    conn.info[_CHANGED] = True


def _forget(conn) -> None:
    """Connection commit and rollback: the transaction's mark goes with it. A connection
    lost to the server (invalidated) holds no mark any more: the pool clears its info when it
    connects again (and asking an invalidated connection for it refused the rollback)."""
    if not conn.invalidated:
        conn.info.pop(_CHANGED, None)


def _new_token_before_commit(session: Session) -> None:
    """Session before_commit: a transaction that wrote shown rows changes the token last."""
    if not session.in_transaction():
        return
    session.flush()  # what is still pending is written now, and seen by _note_write
    connection = session.connection()
    if not connection.info.get(_CHANGED):
        return
    new = _new_token_values()
    if not connection.execute(_new_token(), new).rowcount:
        session.add(PageEpoch(id=1, token=new["page_token"], changed_at=new["page_changed_at"]))
        session.flush()
    _token_changed(connection)


def _new_token_values() -> dict:
    """The values _new_token() binds: a new random token, and now."""
    return {"page_token": secrets.randbits(62), "page_changed_at": utcnow()}


def _token_changed(connection) -> None:
    """The token changed after every write of the transaction so far: its commit need not
    change it again, and the request reads the page state anew (its own write changed it)."""
    connection.info.pop(_CHANGED, None)
    if has_app_context():
        g.pop("page_state", None)


@functools.cache
def _new_token():
    """SQL: the row's new token and its time, bound when it runs. Every writing transaction
    ends with it: built once, it is neither composed nor walked for its cache key again, and
    run on the connection as a table's UPDATE (through the session, an ORM UPDATE would
    first look for the row among the session's objects, for nothing). Its parameters' names
    are its own, for it goes into other statements too (_carrying_token)."""
    table = PageEpoch.__table__
    return (update(table).where(table.c.id == THE_ROW)
            .values(token=bindparam("page_token"), changed_at=bindparam("page_changed_at")))


def write_last(connection, statement, values: dict):
    """The one row `statement` returns (an INSERT ... RETURNING that is its transaction's last
    write), the page token changed by the same statement on PostgreSQL: a data-modifying
    WITH, so the commit needs no UPDATE and no round trip of its own (a post's INSERT is the
    hottest write). With no transaction open it runs alone (readonly.WHOLE_ALONE): no BEGIN,
    and nothing left for the commit to send. A write after it, or a token row found missing,
    marks the transaction again, and the commit changes the token as usual. The caller keeps
    the lock order: this takes the token's row lock, which must stay the last lock a writer
    takes. On SQLite (no data-modifying WITH), the statement alone."""
    if connection.dialect.name != "postgresql":
        return connection.execute(statement, values).one()
    row = _carrying_token(statement).first(connection, {**values, **_new_token_values()})
    if row[-1]:  # the token's row was there and changed
        _token_changed(connection)
    return row[:-1]


@functools.cache
def _carrying_token(statement):
    """SQL: `statement` (an INSERT ... RETURNING, built once) with _new_token() as a
    data-modifying WITH, and how many token rows it changed returned last; it runs alone
    when it is the request's only write."""
    changed = _new_token().returning(PageEpoch.id).cte("new_page_token")
    return Direct(statement.add_cte(changed).returning(
        select(func.count()).select_from(changed).scalar_subquery()
    ).execution_options(**WHOLE_ALONE))


def _has_uncommitted_writes() -> bool:
    session = db.session()
    if session.new or session.dirty or session.deleted:
        return True
    return bool(session.in_transaction() and session.connection().info.get(_CHANGED))


# -- when consents change by themselves -----------------------------------------------------

def _next_period_boundary(at):
    """SQL: the next moment after `at` when a consent's period starts or ends (two index
    lookups), or NULL when none will."""
    from coprod.citizens.models import Consent

    moments = union_all(
        select(func.min(Consent.starts_at).label("at")).where(Consent.starts_at > at),
        select(func.min(Consent.ends_at).label("at")).where(Consent.ends_at > at)).subquery()
    return select(func.min(moments.c.at)).scalar_subquery()


def _state_columns(reader):
    """SQL: (token, changed_at, the reader's last feed visit, the next consent boundary) of
    the reader `reader` (a bound value or a column), with page_epoch in the FROM; the
    collaboration and the instant are bound as page_collaboration and page_now."""
    from coprod.reflections.models import FeedVisit

    seen = (select(FeedVisit.seen_at)
            .where(FeedVisit.user_id == reader,
                   FeedVisit.collaboration_id == bindparam("page_collaboration"))
            .scalar_subquery())
    return (PageEpoch.token, PageEpoch.changed_at, seen,
            _next_period_boundary(bindparam("page_now", type_=UTCDateTime())))


@functools.cache
def _state_query():
    """SQL: the page state of one reader. Built once: only its parameters change from
    request to request."""
    return select(*_state_columns(bindparam("reader"))).where(PageEpoch.id == THE_ROW)


def with_state(identity, reader_column, identity_table):
    """The statement that finds who a request is (`identity`, whose FROM starts at
    `identity_table`), with the page state of its user (`reader_column`) as four more
    columns: a page read as its reader is known costs no statement of its own. Run it with
    state_parameters(); give its last four columns to note_state()."""
    return (identity.add_columns(*_state_columns(reader_column))
            .join_from(identity_table, PageEpoch, PageEpoch.id == THE_ROW, isouter=True))


def wants_state(pages: bool) -> bool:
    """Will this request read the page state? A GET or HEAD with the cache on does when it
    asks for a page that can be kept, or (`pages`: a log-in's request) any page of the site,
    whose header shows a kept value."""
    if not has_request_context() or request.method not in ("GET", "HEAD") or _store() is None:
        return False
    return pages or asks_kept_view()


def asks_kept_view() -> bool:
    """Does this request ask for a view whose page the cache may keep (its GET)?"""
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView (the API's): its GET
        view = getattr(view_class, "get", None)
    return getattr(view, "kept", False)


def state_parameters() -> dict:
    return {"page_collaboration": _page_collaboration(), "page_now": utcnow()}


def note_state(state) -> None:
    """The page state read with the request's identity (with_state), for the page's own
    collaboration: _state() answers from it."""
    if state[0] is not None:  # no page_epoch row: read it as _state() would
        g.setdefault("page_state", {})[_page_collaboration()] = tuple(state)


def _page_collaboration() -> int | None:
    return (request.view_args or {}).get("collaboration_id")


# -- the cache ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CachedPage:
    body: bytes
    mimetype: str
    reads: dict = field(default_factory=dict)  # audit kind -> ids the page showed


def _store() -> LRUCache | None:
    store = current_app.extensions.get("coprod_page_cache")
    return store if store is not None and store.maxsize > 0 else None


def _reader() -> tuple | None:
    """Who reads, as far as a page can tell readers apart; None when nobody is signed in."""
    api_user = g.get("api_user")
    if api_user is not None:  # the token's digest: no secret is kept in the cache's keys
        bearer = request.headers.get("Authorization", "").encode()
        return ("api", api_user.id, hashlib.sha256(bearer).digest())
    if not current_user.is_authenticated:
        return None
    log_in = getattr(current_user, "current_session", None)
    if log_in is None or session.get("_flashes"):
        return None  # a page that shows (and uses up) a message is shown once
    # A session without a CSRF token yet gets one from a page with a form: that page changes
    # the session, so it is not kept; the next one is kept under the token.
    csrf = session.get("csrf_token")
    return ("web", current_user.id, log_in.id,
            csrf and hashlib.sha256(csrf.encode()).digest())


def _state(user_id: int, collaboration_id: int | None, now: datetime) -> tuple | None:
    """(token, changed_at, the reader's last feed visit, the next consent boundary), read
    once a request per collaboration: a page and its header's badge share one read. A commit
    that changes the token forgets it (_new_token_before_commit)."""
    read = g.setdefault("page_state", {})
    if collaboration_id not in read:
        read[collaboration_id] = db.session.execute(_state_query(), {
            "reader": user_id, "page_collaboration": collaboration_id, "page_now": now}).first()
    return read[collaboration_id]


def _key(collaboration_id: int | None) -> tuple | None:
    """The page's key, or None when it must be built (and not kept)."""
    reader = _reader()
    if reader is None or _has_uncommitted_writes():
        return None
    now = utcnow()
    state = _state(reader[1], collaboration_id, now)
    if state is None:
        return None
    token, _changed_at, _seen_at, boundary = state
    # The language and time zone as chosen for the request (Flask-Babel's own answers are
    # functions of these): parsing them into Babel's objects cost a kept page a fortieth.
    return (request.endpoint, request.full_path, reader, select_locale(),
            select_timezone(), token, _visit(state), boundary,
            int(now.timestamp()) // QUARTER_HOUR)


def _visit(state: tuple):
    """The reader's last feed visit as far as it matters: once it is later than the last
    write, nothing can be unread, and whenever they come back the answer is the same."""
    _token, changed_at, seen_at, _boundary = state
    if seen_at is not None and seen_at >= changed_at:
        return "nothing new"  # every reflection was written before the visit
    return seen_at


def _keepable(response) -> bool:
    return (response.status_code == 200 and not response.is_streamed
            and "Set-Cookie" not in response.headers and not session.modified
            and not _has_uncommitted_writes())


def cached_page(view: Callable) -> Callable:
    """Answer the view from this worker's cache while nothing it shows has changed."""
    @wraps(view)
    def answer(*args, **kwargs):
        store = _store()
        key = _key(kwargs.get("collaboration_id")) if store is not None else None
        if key is None:
            return view(*args, **kwargs)
        with _lock:
            page = store.get(key)
        if page is not None:
            return _replayed(page)
        from coprod.accounts.sessions import full_user

        full_user()  # the page is built: with the reader as the ORM's user
        response = current_app.make_response(view(*args, **kwargs))
        if _keepable(response):
            from coprod.citizens import audit

            page = CachedPage(response.get_data(), response.mimetype, audit.reads_to_record())
            if store.getsizeof(page) <= store.maxsize // 8:  # one page never fills the cache
                with _lock:
                    store[key] = page
        return response
    answer.kept = True  # wants_state(): its page state is read with the reader's identity
    return answer


@dataclass(frozen=True)
class KeptValue:
    """A small value every page shows (the header's badge), kept as pages are."""

    value: object
    body: bytes = b""  # sized as an empty page


_MISSING = object()


def kept_value(name: str, compute: Callable[[], object], collaboration_id: int | None = None):
    """compute() for the signed-in reader, or what it gave while nothing it depends on has
    changed: the same token and next consent boundary as pages (so a write anywhere, or a
    consent period starting or ending, computes it again), and the same user. For a value
    that depends only on what is stored, the user's policy facts and the time of consents,
    as the header's unread badge does; never on a connection holding an uncommitted write.
    With `collaboration_id`, the value may depend on the reader's last visit to that
    collaboration's feed too (a visit changes no token), as its tab's unread count does."""
    store = _store()
    if store is None or not current_user.is_authenticated or _has_uncommitted_writes():
        return compute()
    read = g.get("page_state")  # the token and boundary are the same for every collaboration
    if collaboration_id is None and read:
        state = next(iter(read.values()))
    else:  # the page's own collaboration's read, which its tabs' badges will share
        state = _state(current_user.id, collaboration_id if collaboration_id is not None
                       else (request.view_args or {}).get("collaboration_id"), utcnow())
    if state is None:
        return compute()
    key = (name, collaboration_id, current_user.id, state[0], state[3],
           _visit(state) if collaboration_id is not None else None)
    with _lock:
        found = store.get(key, _MISSING)
    if found is not _MISSING:
        return found.value
    value = compute()
    with _lock:
        store[key] = KeptValue(value)
    return value


def clear() -> None:
    """Forget every page this worker keeps (tests that measure a page being built)."""
    store = current_app.extensions.get("coprod_page_cache")
    if store is not None:
        with _lock:
            store.clear()


def _replayed(page: CachedPage):
    from coprod.citizens import audit

    for kind, ids in page.reads.items():
        audit.note_reads(kind, ids)
    return current_app.response_class(page.body, status=200, mimetype=page.mimetype)


def install(app: Flask) -> None:
    """Called from create_app(): the cache of this app and the hooks that keep it honest."""
    size = app.config.get("PAGE_CACHE_BYTES", 0)
    app.extensions["coprod_page_cache"] = LRUCache(maxsize=size,
                                                   getsizeof=lambda page: len(page.body) + 512)
    with app.app_context():
        engines = set(db.engines.values())
    for engine in engines:
        if not event.contains(engine, "before_cursor_execute", _note_write):
            event.listen(engine, "before_cursor_execute", _note_write)
            event.listen(engine, "commit", _forget)
            event.listen(engine, "rollback", _forget)
    if not event.contains(Session, "before_commit", _new_token_before_commit):
        event.listen(Session, "before_commit", _new_token_before_commit)


@event.listens_for(PageEpoch.__table__, "after_create")
def _first_token(target, connection, **kw) -> None:
    """A database made by create_all() starts with its row, as one made by migrations does."""
    connection.execute(target.insert().values(id=1, token=secrets.randbits(62),
                                              changed_at=utcnow()))

