"""Fixtures of the message tests: a space with two partner organizations and a member of each
role, a second space with its own members, conversations made through the operations, and a
query counter."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from coprod import policy
from coprod.accounts.models import Role
from coprod.messages import operations
from coprod.spaces.models import Collaboration
from tests.conftest import statements_run
from tests.factories import CollaborationFactory, PartnerFactory, member


@pytest.fixture
def space(db):
    """Meaningful work: job centre and café staff, a coordinator, a citizen, an observer."""
    collab = CollaborationFactory(title="Meaningful work")
    job_centre = PartnerFactory(collaboration=collab, organization__name="Job centre")
    cafe = PartnerFactory(collaboration=collab, organization__name="Café Solsikke")
    people = SimpleNamespace(
        coordinator=member(collab, Role.COORDINATOR, display_name="Cora Coordinator"),
        jens=member(collab, Role.PARTNER_STAFF, job_centre, display_name="Jens Jobcentre"),
        carla=member(collab, Role.PARTNER_STAFF, cafe, display_name="Carla Cafe"),
        citizen=member(collab, Role.CITIZEN, display_name="Cit Izen"),
        observer=member(collab, Role.OBSERVER, display_name="Olga Observer"),
    )
    elsewhere = CollaborationFactory(title="Somewhere else entirely")
    outsider = member(elsewhere, Role.COORDINATOR, display_name="Otto Outsider")
    db.session.commit()
    return SimpleNamespace(collab=collab, job_centre=job_centre, cafe=cafe, people=people,
                           elsewhere=elsewhere, outsider=outsider)


def actor(seat_or_user):
    """A fresh actor (no cached memberships) for a membership or a user."""
    user = getattr(seat_or_user, "user", seat_or_user)
    return policy.actor_for(user)


@pytest.fixture
def converse(db):
    """converse(collab, starter, [others], body, subject="") -> a committed conversation."""

    def _converse(collab, starter, others, body="Hello", subject=""):
        conversation = operations.start_conversation(
            actor(starter), collab, [o.user_id for o in others], subject, body)
        db.session.commit()
        return conversation

    return _converse


@pytest.fixture
def write(db):
    """write(seat, conversation, body) -> a committed message."""

    def _write(seat, conversation, body):
        message = operations.post_message(actor(seat), conversation, body)
        db.session.commit()
        return message

    return _write


@pytest.fixture
def crowd(db):
    """crowd(collab_id, user_ids, n) -> id of the last of n new conversations.

    Each is started by a new member with the given users and gets n replies from its starter,
    so every given user has n + 1 unread messages in each. Takes ids and leaves nothing
    loaded, for tests that count queries.
    """

    def _crowd(collab_id, user_ids, n):
        collab = db.session.get(Collaboration, collab_id)
        last = None
        for i in range(n):
            starter = actor(member(collab, display_name=f"Member {n}-{i}"))
            last = operations.start_conversation(starter, collab, user_ids, f"Topic {n}-{i}",
                                                 f"Topic {n}-{i} opens")
            for j in range(n):
                operations.post_message(starter, last, f"Reply {j} in {n}-{i}")
        db.session.commit()
        last_id = last.id
        db.session.expunge_all()  # nothing cached from the setup helps what is counted
        return last_id

    return _crowd


@pytest.fixture
def count_queries(db):
    """count_queries(fn, *args) -> (fn(*args), how many SQL statements it ran)."""

    def _count(fn, *args):
        with statements_run(db) as run:
            result = fn(*args)
        return result, len(run)

    return _count
