"""Log-ins kept on the server: one row per browser that logged in, so that each can be listed
and ended on its own.

A log-in's cookies (Flask-Login's session and remember-me cookies) hold "user id:secret"; the
server keeps only the secret's SHA-256 in `user_sessions`. A request whose secret has no row,
or whose row has expired, is logged out. Ending a log-in deletes its row: "log out" ends this
device, the profile ends any other or all the others, an administrator ends any, and a
deactivation ends them all. Every log-in lasts REMEMBER_COOKIE_DURATION at most (the
"Keep me logged in" period), whatever cookie the browser still holds.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request
from flask_limiter.util import get_remote_address
from sqlalchemy import ForeignKey, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from coprod import pagecache
from coprod.accounts.models import User
from coprod.common import UTCDateTime, utcnow
from coprod.direct import Direct
from coprod.extensions import db
from coprod.i18n import lazy_gettext as _l

# last_seen_at is written at most this often per log-in: not a write on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
USER_AGENT_MAX = 255


def now() -> datetime:
    """The clock of log-ins (tests move it)."""
    return utcnow()


class UserSession(db.Model):
    """One browser's log-in: who, since when, last seen when and where, until when."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The log-in ends then at the latest: REMEMBER_COOKIE_DURATION after it began.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "Keep me logged in": the browser keeps a remember-me cookie until expires_at.
    remember: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    # The second factor this log-in passed beyond the first ("totp", or "idp": the identity
    # provider vouched for one), or None; accounts/twofactor.py reads it (session_factor()).
    second_factor: Mapped[str | None] = mapped_column(String(16))

    user: Mapped[User] = relationship()

    @staticmethod
    def digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def device(self) -> str:
        """The browser and system, roughly, so a person recognizes their own devices."""
        return describe_agent(self.user_agent)


# Checked in order: Edge and Opera say "Chrome" too, Chrome says "Safari".
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))


def describe_agent(agent: str) -> str:
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return _l("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or (_l("Unknown browser") if not agent else agent[:60])


def _client() -> tuple[str, str]:
    """The browser and address of this request (the address the rate limits see)."""
    if not has_request_context():
        return "", ""
    agent = request.headers.get("User-Agent", "")[:USER_AGENT_MAX]
    return agent, (get_remote_address() or "")[:64]


def open_session(user: User, remember: bool = False,
                 second_factor: str | None = None) -> UserSession:
    """A new log-in row for `user`; its secret goes on user.session_secret for the cookies.
    `second_factor` is the factor the log-in passed beyond the first (twofactor.py)."""
    moment = now()
    forget_expired(user)
    secret = secrets.token_urlsafe(32)
    agent, address = _client()
    row = UserSession(
        user_id=user.id, secret_hash=UserSession.digest(secret), created_at=moment,
        last_seen_at=moment, remember=remember, user_agent=agent, address=address,
        second_factor=second_factor,
        expires_at=moment + current_app.config["REMEMBER_COOKIE_DURATION"],
    )
    db.session.add(row)
    db.session.flush()
    user.session_secret = secret
    user.current_session = row
    return row


@functools.cache
def _live_login(page_state: bool):
    """SQL: the log-in row of a cookie's user id and secret, with its user and their seats
    (policy.actors.seats_column), and with `page_state` what the page cache reads before a
    page (pagecache.with_state). Every request with a cookie runs it: built once, with only
    its values bound each time, it is neither composed again nor walked again for
    SQLAlchemy's cache key."""
    from coprod.policy.actors import seats_column

    found = (select(UserSession, seats_column(UserSession.user_id))
             .options(joinedload(UserSession.user))
             .where(UserSession.secret_hash == bindparam("secret_hash"),
                    UserSession.user_id == bindparam("user_id")))
    if page_state:
        found = pagecache.with_state(found, UserSession.user_id, UserSession)
    return found


class PageReader:
    """Who reads a page the cache may answer (a GET of a kept view) or posts to a view marked
    posts_as_reader(), read as one plain row by the statement that finds the log-in or the
    API token: the user's id, language, time zone, administrator flag and seats (and a
    log-in's id and second factor), which is what answering from the cache, the two-factor
    gate, the policy's facts and a post need. Loading the user and the log-in or token as
    the ORM's objects was a sixth of such a page. A page the cache does not hold is built
    with the full user (pagecache calls full_user() first), and anything else asked of a
    reader loads it as well (`load`: the ORM's user, or None)."""

    is_authenticated = True
    is_active = True  # the statements read active users only
    is_anonymous = False

    def __init__(self, *, user_id: int, locale: str, timezone: str, is_admin: bool,
                 seats: str | None, load: Callable[[], User | None], **more):
        from coprod.policy.actors import seats_of

        self.__dict__.update(id=user_id, locale=locale, timezone=timezone, is_admin=is_admin,
                             loaded_seats=seats_of(seats), load=load, **more)

    def get_id(self) -> str:
        return self.identity

    def __getattr__(self, name: str):
        """Anything a reader does not hold: the full user's."""
        return getattr(full_user(), name)


class _ReaderLogIn:
    """The log-in of a PageReader: its row's id and second factor."""

    __slots__ = ("id", "second_factor")

    def __init__(self, login_id: int, second_factor: str | None):
        self.id, self.second_factor = login_id, second_factor


_USER_SLOTS = ("api_user", "_login_user")  # an API token's user; Flask-Login's current_user


def _request_reader() -> PageReader | None:
    """The request's user if it is (still) a PageReader."""
    return next((g.get(slot) for slot in _USER_SLOTS
                 if isinstance(g.get(slot), PageReader)), None)


def reader_locale(user_id: int):
    """The locale of the request's PageReader if it is user `user_id` (else None): what a
    text's language is read from when its author wrote it as a reader."""
    reader = _request_reader() if has_request_context() else None
    return reader.locale if reader is not None and reader.id == user_id else None


def full_user():
    """The request's user as the ORM's object, in place of a PageReader (one statement), in
    every slot that held the reader; the user as it is otherwise. A log-in or token that
    ended meanwhile answers logged out."""
    reader = _request_reader()
    if reader is None:
        return g.get("api_user") or g.get("_login_user")
    user = reader.load() or current_app.login_manager.anonymous_user()
    for slot in _USER_SLOTS:
        if g.get(slot) is reader:
            setattr(g, slot, user)
    return user


@functools.cache
def _reader_login(page_state: bool, space: bool = False):
    """SQL: _live_login(page_state) as plain columns (PageReader's) of the tables, for no ORM
    object to be made of them; active users only. With `space`, the row of the collaboration
    bound as "space_id" too (spaces.models.with_collaboration). Every kept page and every post
    runs it first: it runs Direct (coprod/direct.py)."""
    from coprod.policy.actors import seats_column
    from coprod.spaces.models import with_collaboration

    log_in, user = UserSession.__table__, User.__table__
    found = (select(log_in.c.id, log_in.c.expires_at, log_in.c.last_seen_at,
                    log_in.c.second_factor, user.c.id, user.c.locale, user.c.timezone,
                    user.c.is_admin, seats_column(log_in.c.user_id))
             .join_from(log_in, user, user.c.id == log_in.c.user_id)
             .where(log_in.c.secret_hash == bindparam("secret_hash"),
                    log_in.c.user_id == bindparam("user_id"), user.c.is_active.is_(True)))
    if space:
        found = with_collaboration(found, log_in, bindparam("space_id"))
    if page_state:
        found = pagecache.with_state(found, log_in.c.user_id, log_in)
    return Direct(found)


def posts_as_reader(view):
    """Mark a view whose POST needs of its user only what a PageReader holds (the actor's
    facts, the user's id and language): its log-in is read as one plain row, as for a kept
    page, not as the ORM's user and log-in (a twentieth of posting a reflection), and the
    same statement reads the collaboration of the view's URL into the session
    (_posted_space(): the view must be under /c/<collaboration_id>/). The view must not hand
    the user to the ORM or to an account operation; anything else it asks of the user loads
    the full user (PageReader.__getattr__)."""
    view.posts_as_reader = True
    return view


def _asks_reader_post() -> bool:
    """Is this request the POST of a view marked with posts_as_reader()?"""
    if request.method != "POST":
        return False
    return getattr(current_app.view_functions.get(request.endpoint), "posts_as_reader", False)


_USE_DUE = object()  # the log-in's last use is due to be noted: the ORM's objects write it


def user_for_login_id(identity: str) -> User | PageReader | None:
    """The active user whose live log-in the cookies name ("id:secret"), or None: for a GET
    of a page the cache may answer or the POST of a view marked posts_as_reader(), as a
    PageReader (unless its log-in's last use is due to be noted).

    Cookies of the earlier form ("id:nonce:since") name no row: they answer logged out."""
    user_id, _sep, secret = identity.partition(":")
    if not user_id.isdigit() or not secret or ":" in secret:
        return None
    page_state = pagecache.wants_state(pages=True)
    posting = _asks_reader_post()
    if posting or (page_state and pagecache.asks_kept_view()):
        reader = _reader_for_login(identity, page_state, _posted_space() if posting else None)
        if reader is not _USE_DUE:
            return reader
    return _user_for_login(identity, page_state)


def _posted_space() -> int | None:
    """The collaboration a post goes to (its URL's), read with the log-in: every view marked
    posts_as_reader() loads it first, and its own statement was a tenth of a post."""
    return (request.view_args or {}).get("collaboration_id")


def _reader_for_login(identity: str, page_state: bool, space_id: int | None = None
                      ) -> PageReader | None | object:
    """user_for_login_id() as a PageReader, or _USE_DUE; with `space_id`, that collaboration
    read in the same statement and put in the session as loaded (spaces.models.keep_loaded)."""
    user_id, _sep, secret = identity.partition(":")
    values = {"secret_hash": UserSession.digest(secret), "user_id": int(user_id)}
    if page_state:
        values.update(pagecache.state_parameters())
    if space_id is not None:
        values["space_id"] = space_id
    found = _reader_login(page_state, space_id is not None).first(db.session.connection(),
                                                                  values)
    moment = now()
    if found is None or found[1] <= moment:
        return None
    if moment - found[2] >= LAST_SEEN_RESOLUTION:
        return _USE_DUE
    if space_id is not None:
        from coprod.spaces.models import keep_loaded

        keep_loaded(found[9:])
    if page_state:
        pagecache.note_state(found[-4:])
    return PageReader(
        user_id=found[4], locale=found[5], timezone=found[6], is_admin=found[7], seats=found[8],
        load=functools.partial(_user_for_login, identity, False), identity=identity,
        session_secret=secret, current_session=_ReaderLogIn(found[0], found[3]))


def _user_for_login(identity: str, page_state: bool) -> User | None:
    """user_for_login_id() as the ORM's objects, with the page state if asked."""
    user_id, _sep, secret = identity.partition(":")
    values = {"secret_hash": UserSession.digest(secret), "user_id": int(user_id)}
    if page_state:
        values.update(pagecache.state_parameters())
    found = db.session.execute(_live_login(page_state), values).first()
    row = found[0] if found is not None else None
    moment = now()
    if row is None or row.expires_at <= moment or not row.user.is_active:
        return None
    if page_state:
        pagecache.note_state(found[2:])
    if moment - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        _touch(row, moment)
    from coprod.policy.actors import seats_of

    user = row.user
    user.session_secret = secret
    user.current_session = row
    user.loaded_seats = seats_of(found[1])
    return user


def _touch(row: UserSession, moment: datetime) -> None:
    """Note that the log-in is in use. Committed at once when nothing else is pending (the
    user is loaded before the view works); otherwise it goes with the view's commit."""
    row.last_seen_at = moment
    agent, address = _client()
    row.address = address or row.address
    row.user_agent = agent or row.user_agent
    session = db.session
    if not (session.new or session.deleted or any(obj is not row for obj in session.dirty)):
        session.commit()


def sessions_of(user: User) -> list[UserSession]:
    """The user's live log-ins, the most recently used first."""
    return list(db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.expires_at > now(),
    ).order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end_session(user: User, session_id: int) -> bool:
    """End one log-in of `user` (its cookies answer logged out from the next request)."""
    ended = db.session.execute(delete(UserSession).where(
        UserSession.id == session_id, UserSession.user_id == user.id)).rowcount
    db.session.flush()
    return bool(ended)


def end_sessions(user: User, keep: UserSession | None = None) -> int:
    """End every log-in of `user`, except `keep` if given; how many ended."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    ended = db.session.execute(stmt).rowcount
    db.session.flush()
    return ended


def forget_expired(user: User) -> None:
    """Drop the user's expired log-ins (on each new log-in: the table stays small)."""
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id, UserSession.expires_at <= now()))
