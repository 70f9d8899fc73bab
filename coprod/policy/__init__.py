"""The only door to data: who may do what, per object and as an SQL filter.

    may(actor, "update", charter)             -> bool
    where(actor, Partner, "read")             -> SQL clause for lists
    where_given(actor, Reply, "read_author")  -> the same, for rows already filtered by "read"
    scoped(actor, Partner)                    -> select() of what the actor may read
    get_or_404(actor, Partner, 3, "update")   -> the object, 404 if unreadable, 403 if read-only
    require(actor, "update", obj)             -> raises 404/403 the same way

Objects an actor may not read answer 404 (their existence is not revealed); objects an actor may
read but not change answer 403.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from werkzeug.exceptions import Forbidden, NotFound

from coprod.extensions import db
from coprod.policy import (
    kept,
    knowledge,  # noqa: F401  (keeps PartnerKnowledge in step)
)
from coprod.policy.actors import SYSTEM, Actor, actor_for, current_actor
from coprod.policy.rules import READ_BY_KEY, RULES, SCOPES, Rule

__all__ = [
    "SYSTEM",
    "Actor",
    "actor_for",
    "current_actor",
    "may",
    "may_any",
    "where",
    "where_given",
    "scoped",
    "get_or_404",
    "require",
    "rule_for",
    "get_in_collaboration",
]


# Each (facts, model, action)'s filter; a few dozen rules for each set of facts in use.
FILTERS = kept.Kept(maxsize=2048)


def rule_for(model: type, action: str) -> Rule:
    try:
        return RULES[(model, action)]
    except KeyError:
        raise LookupError(f"no policy rule for {model.__name__}.{action}") from None


def may(actor: Actor, action: str, obj) -> bool:
    model = type(obj)
    return rule_for(model, action).allows(actor, obj, SCOPES[model])


def may_any(actor: Actor, model: type, action: str) -> bool:
    """Whether the actor may do this to at least one object of the model (one query): who a
    rule reaches at all, e.g. who reads any citizen's information."""
    pk = model.__mapper__.primary_key[0]
    return db.session.scalar(select(pk).where(where(actor, model, action)).limit(1)) is not None


def where(actor: Actor, model: type, action: str = "read"):
    """The SQL filter of a rule for an actor, built once per process for the actor's policy
    facts (coprod/policy/kept.py) and held for the actor's lifetime (a request or a task's
    step): a page asks for the same few filters many times, and building one costs more than
    running it. The clause holds the actor's facts as bound values and reads everything else
    (consents, the map, memberships) when it runs; forget() drops the actor's hold."""
    if actor.is_system:
        return rule_for(model, action).where(actor, SCOPES[model])
    key = ("where", model, action)
    clause = actor.memo.get(key)
    if clause is None:
        clause = actor.memo[key] = FILTERS.get(
            (kept.facts(actor), model, action),
            lambda: rule_for(model, action).where(actor, SCOPES[model]))
    return clause


def where_given(actor: Actor, model: type, action: str, known: str = "read"):
    """The SQL filter of a rule for rows a statement has already filtered by the rule of
    `known` (its read rule): the same answer as where() on those rows, with less for
    PostgreSQL to plan (Rule.where_given). Kept like where()'s."""
    rule, given = rule_for(model, action), rule_for(model, known)
    if actor.is_system:
        return rule.where_given(actor, SCOPES[model], given)
    key = ("where_given", model, action, known)
    clause = actor.memo.get(key)
    if clause is None:
        clause = actor.memo[key] = FILTERS.get(
            (kept.facts(actor), "given", model, action, known),
            lambda: rule.where_given(actor, SCOPES[model], given))
    return clause


def scoped(actor: Actor, model: type, action: str = "read") -> Select:
    return select(model).where(where(actor, model, action))


def require(actor: Actor, action: str, obj) -> None:
    if action != "read" and not may(actor, "read", obj):
        raise NotFound()
    if not may(actor, action, obj):
        raise NotFound() if action == "read" else Forbidden()


def get_or_404(actor: Actor, model: type, ident, action: str = "read", options=()):
    """Load one object through the read filter in SQL, then check the action. `options`:
    loader options for what the caller will read of it (in the same query). A model whose
    read rule the actor's facts decide with the object in hand (READ_BY_KEY) is loaded by its
    key and checked by may(): the same answer (the random worlds hold may() and the filter to
    agree) without a filter to compile and key, and no statement when the session holds it."""
    pk = model.__mapper__.primary_key[0]
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        raise NotFound() from None
    if model in READ_BY_KEY and not options:
        obj = db.session.get(model, ident)
        if obj is not None and not may(actor, "read", obj):
            obj = None
    else:
        obj = db.session.scalar(scoped(actor, model, "read").where(pk == ident)
                                .options(*options))
    if obj is None:
        raise NotFound()
    if action != "read" and not may(actor, action, obj):
        raise Forbidden()
    return obj


def get_in_collaboration(actor: Actor, model: type, ident, collaboration_id: int,
                         action: str = "read"):
    """An object named in a URL under its collaboration: 404 if unreadable or if it belongs to
    another collaboration than the URL says, 403 if readable but `action` is denied."""
    obj = get_or_404(actor, model, ident)
    if SCOPES[model].collaboration_id_of(obj) != collaboration_id:
        raise NotFound()
    if action != "read" and not may(actor, action, obj):
        raise Forbidden()
    return obj
