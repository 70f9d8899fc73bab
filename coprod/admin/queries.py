"""Reads of the admin area: accounts, their log-ins, the organizations of the installation.
Each starts by checking that the actor administers the installation (404 otherwise)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from coprod.accounts.models import ApiToken, User
from coprod.accounts.sessions import UserSession, now
from coprod.extensions import db
from coprod.policy import Actor
from coprod.policy.installation import require_administrator

PAGE_SIZE = 50


@dataclass
class AccountRow:
    user: User
    live_sessions: int
    last_seen: object
    active_tokens: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def accounts(actor: Actor, search: str = "", page: int = 1) -> tuple[list[AccountRow], int]:
    """Accounts whose email or name contains `search`, by email, a page at a time, each with
    its live log-ins and active tokens counted in the same query; and the number found."""
    require_administrator(actor)
    where = []
    if search.strip():
        pattern = _like(search.strip())
        where.append(or_(func.lower(User.email).like(pattern, escape="\\"),
                         func.lower(User.display_name).like(pattern, escape="\\")))
    live = (select(UserSession.user_id, func.count().label("n"),
                   func.max(UserSession.last_seen_at).label("seen"))
            .where(UserSession.expires_at > now()).group_by(UserSession.user_id).subquery())
    tokens = (select(ApiToken.user_id, func.count().label("n"))
              .where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id).subquery())
    stmt = (select(User, func.coalesce(live.c.n, 0), live.c.seen, func.coalesce(tokens.c.n, 0))
            .outerjoin(live, live.c.user_id == User.id)
            .outerjoin(tokens, tokens.c.user_id == User.id)
            .where(*where).order_by(User.email)
            .limit(PAGE_SIZE).offset((max(page, 1) - 1) * PAGE_SIZE))
    total = db.session.scalar(select(func.count()).select_from(User).where(*where))
    rows = [AccountRow(user, n, seen, t) for user, n, seen, t in db.session.execute(stmt)]
    return rows, total


def account(actor: Actor, user_id: int) -> User | None:
    require_administrator(actor)
    return db.session.get(User, user_id)


def active_tokens(actor: Actor, user: User) -> list[ApiToken]:
    require_administrator(actor)
    return list(db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)))


def organizations(actor: Actor):
    """Every organization of the installation, by name: the choices of the settings page."""
    from coprod.spaces.models import Organization

    require_administrator(actor)
    return list(db.session.scalars(select(Organization).order_by(Organization.name,
                                                                 Organization.id)))
