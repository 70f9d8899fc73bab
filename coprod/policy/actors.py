"""Who is asking: a user (with their memberships, read once per request) or the system."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, has_request_context
from sqlalchemy import String, cast, func, literal_column, select

from coprod.accounts.models import Role
from coprod.extensions import db


@dataclass(frozen=True)
class Seat:
    """An actor's place in one collaboration."""

    role: Role
    partner_id: int | None


@dataclass
class Actor:
    user_id: int | None
    is_system: bool = False
    _seats: dict[int, Seat] | None = field(default=None, repr=False)
    # Answers worked out once for this actor's lifetime (a request), e.g. what their partner
    # may know of a citizen; forget() drops them.
    memo: dict = field(default_factory=dict, repr=False)
    # What a partner may know of a citizen, by (citizen, partner): it depends on no user, so
    # the actors made for the members of one page may share one dict (members_who_read).
    knowledge: dict = field(default_factory=dict, repr=False)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and not self.is_system

    def seats(self) -> dict[int, Seat]:
        """All memberships of the user, in one query, kept for the actor's lifetime."""
        if self._seats is None:
            from coprod.spaces.models import Membership

            self._seats = {}
            if self.user_id is not None:
                rows = db.session.execute(
                    select(
                        Membership.collaboration_id, Membership.role, Membership.partner_id
                    ).where(Membership.user_id == self.user_id)
                )
                self._seats = {cid: Seat(role, pid) for cid, role, pid in rows}
        return self._seats

    def seat(self, collaboration_id: int | None) -> Seat | None:
        if collaboration_id is None:
            return None
        return self.seats().get(collaboration_id)

    def forget(self) -> None:
        """Drop cached memberships and answers after something they depend on changed."""
        self._seats = None
        self.memo.clear()
        self.knowledge.clear()


def seats_column(user_id):
    """SQL: the seats of the user whose id is `user_id` (a column of the statement it goes
    in), as one text: "collaboration:role:partner" for each membership, joined by commas.
    The log-in's and the API token's statements read it with the user (sessions.py,
    auth.py): every page needs the seats (the two-factor gate first), and this way they cost
    neither a statement nor an ORM object of their own (loading the memberships as objects
    with the user cost a third of a page answered from the page cache)."""
    from coprod.spaces.models import Membership

    # The separators and the empty text are written into the SQL, not bound: as bound values
    # each would be processed and sent with every page's first statement, and the list's
    # separator SQLAlchemy renders into the statement's text anew at every execution (a
    # "post-compile" parameter).
    colon, nothing = literal_column("':'", String), literal_column("''", String)
    seat = (cast(Membership.collaboration_id, String) + colon + cast(Membership.role, String)
            + colon + func.coalesce(cast(Membership.partner_id, String), nothing))
    return (select(func.aggregate_strings(seat, literal_column("','")))
            .where(Membership.user_id == user_id).scalar_subquery())


def seats_of(column: str | None) -> dict[int, Seat]:
    """The seats seats_column() read, by collaboration."""
    seats = {}
    for seat in (column or "").split(","):
        if seat:
            collaboration, role, partner = seat.split(":")
            seats[int(collaboration)] = Seat(Role(role), int(partner) if partner else None)
    return seats


def _seats_from_loaded(actor: Actor, user) -> None:
    """The seats the log-in's statement read with the user (seats_column), if it did."""
    if getattr(user, "loaded_seats", None) is not None:
        actor._seats = dict(user.loaded_seats)


SYSTEM = Actor(user_id=None, is_system=True)


def actor_for(user) -> Actor:
    """The actor of a user object (or of an anonymous visitor)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(user_id=None)
    return Actor(user_id=user.id)


def current_actor() -> Actor:
    """The actor of this request: the API token's user or the logged-in user, cached on g."""
    if not has_request_context():
        raise RuntimeError("current_actor() needs a request; pass an Actor explicitly")
    actor = g.get("coprod_actor")
    if actor is None:
        from flask_login import current_user

        user = g.get("api_user") or current_user
        actor = actor_for(user)
        if actor.user_id is not None:
            from coprod.policy.installation import knows_administrator

            knows_administrator(actor, user)
            _seats_from_loaded(actor, user)
        g.coprod_actor = actor
    return actor
