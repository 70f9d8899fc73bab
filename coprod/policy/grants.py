"""Grants: the building blocks of rules. Each answers twice from one definition.

`allows(actor, obj)` decides for one loaded object; `where(actor, scope)` is the SQL filter
that selects every object of the scope's model the grant allows. The consistency test in
tests/policy checks over random worlds that both answers agree.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache
from sqlalchemy import and_, exists, false, literal, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement

from coprod.accounts.models import Role
from coprod.policy.actors import Actor


class Grant:
    def allows(self, actor: Actor, obj, scope) -> bool:
        raise NotImplementedError

    def where(self, actor: Actor, scope) -> ColumnElement[bool]:
        raise NotImplementedError


class MemberWithRole(Grant):
    """A member of the object's collaboration holding one of the roles (any role if none)."""

    def __init__(self, *roles: Role):
        self.roles = frozenset(roles) if roles else frozenset(Role)

    def allows(self, actor, obj, scope):
        seat = actor.seat(scope.collaboration_id_of(obj))
        return seat is not None and seat.role in self.roles

    def where(self, actor, scope):
        from coprod.spaces.models import Membership

        if actor.user_id is None:
            return false()
        return scope.collaboration_id_col().in_(
            select(Membership.collaboration_id).where(
                Membership.user_id == actor.user_id, Membership.role.in_(self.roles)
            )
        )


class StaffOfPartner(Grant):
    """Partner staff acting on behalf of the very partner the object belongs to."""

    def allows(self, actor, obj, scope):
        seat = actor.seat(scope.collaboration_id_of(obj))
        return (
            seat is not None
            and seat.role == Role.PARTNER_STAFF
            and seat.partner_id is not None
            and seat.partner_id == scope.partner_id_of(obj)
        )

    def where(self, actor, scope):
        from coprod.spaces.models import Membership

        if actor.user_id is None:
            return false()
        seat = aliased(Membership)  # never correlated with a memberships table outside
        return exists().where(
            seat.user_id == actor.user_id,
            seat.role == Role.PARTNER_STAFF,
            seat.collaboration_id == scope.collaboration_id_col(),
            seat.partner_id == scope.partner_id_col(),
        )


class Owner(Grant):
    """The user the object belongs to (tokens, one's own membership)."""

    def allows(self, actor, obj, scope):
        return actor.user_id is not None and scope.owner_id_of(obj) == actor.user_id

    def where(self, actor, scope):
        if actor.user_id is None:
            return false()
        return scope.owner_id_col() == literal(actor.user_id)


class System(Grant):
    """Background work finding what is due; never used for what a person reads."""

    def allows(self, actor, obj, scope):
        return actor.is_system

    def where(self, actor, scope):
        return true() if actor.is_system else false()


class AllOf(Grant):
    """A grant made of several that must all hold (a rule's grants are alternatives)."""

    def __init__(self, *parts):
        self.parts = parts

    def allows(self, actor, obj, scope):
        return all(p.allows(actor, obj, scope) for p in self.parts)

    def where(self, actor, scope):
        return and_(*[p.where(actor, scope) for p in self.parts])


class CollaborationActive:
    """A condition, not a grant: the collaboration is not archived."""

    def allows(self, actor, obj, scope) -> bool:
        from coprod.spaces.models import CollaborationStatus

        return scope.collaboration_of(obj).status == CollaborationStatus.ACTIVE

    def where(self, actor, scope) -> ColumnElement[bool]:
        from coprod.spaces.models import Collaboration, CollaborationStatus

        return scope.collaboration_id_col().in_(
            select(Collaboration.id).where(Collaboration.status == CollaborationStatus.ACTIVE)
        )


# Copies made by with_values, kept per process: a member's next request asks for the same.
# Few distinct values exist (a partner organization's set, a user), and a copy is small
# beside what making it costs (a tenth of a search page when made per request).
_copies: LRUCache = LRUCache(maxsize=512)
_copies_lock = threading.Lock()  # cachetools' caches are not thread-safe


def with_values(clause: ColumnElement[bool], **values) -> ColumnElement[bool]:
    """A copy of a clause built once per process, its bound parameters named in `values`
    set (the actor's facts): one statement shape for every actor, so SQLAlchemy's compiled
    cache serves it, at the cost of a copy rather than a build. A callable value is called
    each time a statement holding the copy runs (the instant consent periods are judged at),
    so one copy serves every request with the same other values, and is kept for them."""
    key = (id(clause), tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                                    for name, value in values.items())))
    with _copies_lock:
        kept = _copies.get(key)
    if kept is not None and kept[0] is clause:  # the id of this very clause, still alive
        return kept[1]

    def visit_bindparam(bind) -> None:
        if bind.key in values:
            value = values[bind.key]
            if callable(value):
                bind.value, bind.callable = None, value
            else:
                bind.value, bind.callable = value, None
            bind.required = False

    copy = visitors.cloned_traverse(
        clause, {"maintain_key": True, "detect_subquery_cols": True},
        {"bindparam": visit_bindparam})
    with _copies_lock:
        _copies[key] = (clause, copy)
    return copy


def any_of(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    from sqlalchemy import or_

    return or_(*clauses) if clauses else false()


def all_of(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(*clauses) if clauses else true()
