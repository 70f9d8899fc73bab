"""Who is asking: a user (with their memberships, loaded once per request) or the system."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, has_request_context
from sqlalchemy import select

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


def _seats_from_loaded(actor: Actor, user) -> None:
    """The log-in's query loads the user's memberships with the user (sessions.py, auth.py):
    every page needs them (the two-factor gate first), so they cost no query of their own."""
    from sqlalchemy import inspect

    if "memberships" not in inspect(user).unloaded:
        actor._seats = {m.collaboration_id: Seat(m.role, m.partner_id)
                        for m in user.memberships}


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
