"""The badges of a space's tabs (unread reflections, unread messages) and the header's "My
information" link: every page of a space shows them, so each is counted once and kept while
nothing it counts has changed (pagecache.kept_value), and is right again after any change."""

from __future__ import annotations

import re

from coprod import policy
from coprod.extensions import db
from coprod.messages import operations as messages
from coprod.reflections import operations
from tests.conftest import statements_run
from tests.factories import PASSWORD
from tests.reflections.test_feed_queries import COMMON

REFLECTIONS = re.compile(r'Reflections <span class="badge badge-new">(\d+)')
MESSAGES = re.compile(r'Messages <span class="badge badge-unread">(\d+)')


def _post(collab, seat, n=1):
    actor = policy.actor_for(seat.user)
    for i in range(n):
        operations.post_reflection(actor, collab, body=f"Reflection {i}", **COMMON)
    db.session.commit()


def _badges(client, collab) -> tuple[int, int, list[str]]:
    """(unread reflections, unread messages) the space's page shows, and its statements."""
    with statements_run(db) as run:
        page = client.get(f"/c/{collab.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    counts = [int(found.group(1)) if (found := pattern.search(text)) else 0
              for pattern in (REFLECTIONS, MESSAGES)]
    return counts[0], counts[1], run


def _counting(run: list[str]) -> list[str]:
    """The statements that count unread reflections or messages (the page's state read,
    which names feed_visits too, is not one)."""
    return [s for s in run if "page_epoch" not in s
            and re.search(r"\b(feed_visits|participants)\b", s) and "count(" in s]


def test_the_reflections_badge_is_counted_once_and_follows_posts_and_visits(
        space, sign_in, client):
    collab, people = space
    _post(collab, people["a"], 2)
    sign_in(people["b"])
    first = _badges(client, collab)
    assert first[0] == 2 and _counting(first[2])
    again = _badges(client, collab)
    assert again[0] == 2 and _counting(again[2]) == []
    _post(collab, people["a"])  # a write: counted again
    assert _badges(client, collab)[0] == 3
    # Reading the feed writes only the visit, which changes no page token: the badge
    # must still follow it.
    assert client.get(f"/c/{collab.id}/reflections").status_code == 200
    assert _badges(client, collab)[0] == 0


def test_a_kept_badge_reaches_no_other_member(space, sign_in, client, new_client):
    collab, people = space
    _post(collab, people["a"], 2)
    sign_in(people["b"])
    assert _badges(client, collab)[0] == 2
    other = new_client()
    assert other.post("/login", data={"email": people["a"].user.email,
                                      "password": PASSWORD}).status_code == 302
    assert _badges(other, collab)[0] == 0  # their own reflections are never unread


def test_the_messages_badge_is_counted_once_and_follows_messages_and_reading(
        space, sign_in, client):
    collab, people = space
    writer = policy.actor_for(people["a"].user)
    conversation = messages.start_conversation(writer, collab, [people["b"].user_id],
                                               "Handover", "First")
    db.session.commit()
    sign_in(people["b"])
    first = _badges(client, collab)
    assert first[1] == 1 and _counting(first[2])
    again = _badges(client, collab)
    assert again[1] == 1 and _counting(again[2]) == []
    messages.post_message(writer, conversation, "Second")
    db.session.commit()
    assert _badges(client, collab)[1] == 2
    messages.mark_read(policy.actor_for(people["b"].user), conversation)
    db.session.commit()
    assert _badges(client, collab)[1] == 0
