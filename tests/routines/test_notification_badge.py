"""The unread badge of the site header: what it costs a page and that its count stays right.

users.unread_notifications counts a member's unread notification rows, kept by the operations
that create and read them; the badge asks nothing while it is 0, else one query (the unread
ones whose object the member may still read). The world is tests/citizens/conftest.py's.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from coprod.messages import operations as messages
from coprod.notifications import operations as notifications
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.routines.models import Notification
from tests.citizens.conftest import build_world
from tests.conftest import statements_run

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")
BADGE = re.compile(r'Notifications <span class="badge badge-unread">(\d+)')


@pytest.fixture
def world(db):
    return build_world(db)


def post(db, author, world, **kw):
    note = reflections.post_reflection(actor_for(author), world.collaboration,
                                       body="The shared calendar works", **{**NOTE, **kw})
    db.session.commit()
    return note


def badge(client) -> int:
    """The number the header's badge shows on a page (0 when there is no badge)."""
    page = client.get("/profile").get_data(as_text=True)
    found = BADGE.search(page)
    return int(found.group(1)) if found else 0


def counter_and_rows(db, user) -> tuple[int, int]:
    """The user's counter and their unread rows, as the database holds them."""
    db.session.expire_all()
    rows = db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))
    return user.unread_notifications, rows


def badge_statements(db, client, path: str) -> list[str]:
    """The statements of one page that read notifications."""
    with statements_run(db) as run:
        assert client.get(path).status_code == 200
    return [s for s in run if re.search(r"\bnotifications\b", s)]


def test_the_badge_asks_nothing_while_nothing_is_unread(db, world, client, login):
    note = post(db, world.case_worker, world)
    login(world.case_worker)
    path = f"/c/{world.collaboration.id}/reflections/{note.id}"
    assert badge_statements(db, client, path) == []
    reflections.reply(actor_for(world.cafe_staff), note, "One")
    db.session.commit()
    notifications.mark_all_read(actor_for(world.case_worker))
    db.session.commit()
    assert counter_and_rows(db, world.case_worker) == (0, 0)
    assert badge_statements(db, client, path) == []
    assert badge(client) == 0


def one_reply_unread(db, world, login):
    """The case worker's note with one reply to it, the case worker logged in: (the note,
    its page)."""
    note = post(db, world.case_worker, world)
    reflections.reply(actor_for(world.cafe_staff), note, "One")
    db.session.commit()
    login(world.case_worker)
    return note, f"/c/{world.collaboration.id}/reflections/{note.id}"


def test_the_badge_costs_one_query_however_many_are_unread(db, world, client, login):
    note, path = one_reply_unread(db, world, login)
    assert len(badge_statements(db, client, path)) == 1
    assert badge(client) == 1

    # of every kind: replies, a mention, a message
    for author in (world.shelter_staff, world.coordinator):
        reflections.reply(actor_for(author), note, "More")
    post(db, world.cafe_staff, world, mentions=[world.case_worker.id])
    messages.start_conversation(actor_for(world.cafe_staff), world.collaboration,
                                [world.case_worker.id], "Shifts", "Can we talk?")
    db.session.commit()
    assert len(badge_statements(db, client, path)) == 1
    assert badge(client) == 5


def test_the_count_stays_right_through_create_read_read_all_and_withdrawal(
        db, world, client, login):
    author = world.case_worker
    note = post(db, author, world)
    first = reflections.reply(actor_for(world.cafe_staff), note, "One")
    second = reflections.reply(actor_for(world.shelter_staff), note, "Two")
    db.session.commit()
    login(author)
    assert badge(client) == 2 and counter_and_rows(db, author) == (2, 2)

    mentioned_in = post(db, world.cafe_staff, world, mentions=[author.id])
    conversation = messages.start_conversation(actor_for(world.cafe_staff),
                                               world.collaboration, [author.id], "Shifts",
                                               "Can we talk?")
    db.session.commit()
    assert badge(client) == 4 and counter_and_rows(db, author) == (4, 4)

    # marking one read, twice: counted once
    one = db.session.scalar(select(Notification).where(Notification.key == f"reply:{first.id}"))
    assert client.post(f"/notifications/{one.id}/read").status_code == 302
    assert client.post(f"/notifications/{one.id}/read").status_code == 302
    assert badge(client) == 3 and counter_and_rows(db, author) == (3, 3)

    # reading the conversation reads its message's notification
    assert client.get(f"/c/{world.collaboration.id}/messages/{conversation.id}"
                      ).status_code == 200
    assert badge(client) == 2 and counter_and_rows(db, author) == (2, 2)

    # withdrawn content is no longer news: the badge drops it at once, the row stays unread
    reflections.withdraw_reply(actor_for(world.shelter_staff), second)
    reflections.withdraw_reflection(actor_for(world.cafe_staff), mentioned_in)
    db.session.commit()
    assert badge(client) == 0 and counter_and_rows(db, author) == (2, 2)

    # a new one counts; "mark all read" reads what the member sees, the hidden stay unread
    third = reflections.reply(actor_for(world.coordinator), note, "Three")
    db.session.commit()
    assert badge(client) == 1 and counter_and_rows(db, author) == (3, 3)
    assert client.post("/notifications/read").status_code == 302
    assert badge(client) == 0 and counter_and_rows(db, author) == (2, 2)
    read = db.session.scalar(select(Notification).where(Notification.key == f"reply:{third.id}"))
    assert read.read_at is not None


def test_the_same_cause_twice_counts_once(db, world):
    note = post(db, world.case_worker, world)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "One")
    again = notifications.notify(world.case_worker.id, world.collaboration.id, "reply",
                                 f"reply:{answer.id}", f"reply:{answer.id}")
    db.session.commit()
    assert again is None
    assert counter_and_rows(db, world.case_worker) == (1, 1)


def test_the_badge_is_kept_while_nothing_it_counts_changes(db, world, client, login):
    """Counting checks every unread notification's object through the policy (tens of
    milliseconds for a member with a hundred unread); the count is kept as pages are, and a
    change anywhere counts again."""
    note, path = one_reply_unread(db, world, login)
    assert len(badge_statements(db, client, path)) == 1
    assert badge_statements(db, client, path) == []
    assert badge_statements(db, client, "/profile") == [] and badge(client) == 1
    reflections.reply(actor_for(world.shelter_staff), note, "Two")
    db.session.commit()
    assert len(badge_statements(db, client, path)) == 1
    assert badge(client) == 2
