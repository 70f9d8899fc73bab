"""SQL built from an actor's policy facts, kept per process.

A rule's SQL filter depends on the actor only through their facts: the user and their seats
(role and partner in each collaboration); no filter asks whether they administer the
installation (those checks are per request, policy/installation.py).
Everything else (consents, the service map, memberships, audiences) is read when a statement
runs, and the instant consent periods are judged at is taken then too (a callable bound
value). So a filter, or a statement built around filters, serves every request of an actor
with the same facts: building it again through the policy, and SQLAlchemy's walk of each
new statement for its compiled cache's key (memoized on a statement object), cost a page a
good part of its time. A change of role or partner changes the facts, and so the key.

A statement holding a value of the moment it was built (a datetime) is never kept: kept, it
would judge consent periods at that moment for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from cachetools import LRUCache

from coprod.policy.actors import Actor


def facts(actor: Actor) -> tuple:
    """What the policy's SQL filters depend on of an actor."""
    return (actor.user_id, actor.is_system, tuple(sorted(actor.seats().items())))


def holds_an_instant(statement) -> bool:
    """Whether a bound value of the statement is a datetime fixed when it was built.

    Each element is looked at once: a search's statement holds the same filters and
    subqueries in several places, and SQLAlchemy's visitors.iterate() walks a shared subtree
    again wherever it appears (a search's first statement for an actor took seconds)."""
    seen, pending = set(), [statement]
    while pending:
        element = pending.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        if (getattr(element, "__visit_name__", None) == "bindparam"
                and isinstance(element.value, datetime)):
            return True
        pending.extend(element.get_children())
    return False


class Kept:
    """Statements (or tuples of them) by key, built on first use in a process."""

    def __init__(self, maxsize: int):
        self.store: LRUCache = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()  # cachetools' caches are not thread-safe

    def get(self, key: tuple, build: Callable[[], object]):
        with self._lock:
            found = self.store.get(key)
        if found is not None:
            return found
        built = build()
        if not any(holds_an_instant(s) for s in (built if isinstance(built, tuple) else (built,))):
            with self._lock:
                self.store[key] = built
        return built

    def clear(self) -> None:
        with self._lock:
            self.store.clear()
