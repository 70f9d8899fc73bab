"""The feed query: policy-filtered, newest first, keyset pages, unread markers, fixed queries."""

from __future__ import annotations

import pytest

from coprod import policy
from coprod.extensions import db
from coprod.reflections import operations, queries
from tests.conftest import count_statements

COMMON = dict(kind="works", perspective="citizens", component="routines",
              learning_level="inter", mode="exploitation")


def _post(collab, seat, n, visibility="collaboration"):
    actor = policy.actor_for(seat.user)
    made = [operations.post_reflection(actor, collab, body=f"Reflection {i}",
                                       visibility=visibility, tags=["handover"], **COMMON)
            for i in range(n)]
    db.session.commit()
    return made


def test_pages_cover_everything_once_newest_first(space):
    collab, people = space
    made = _post(collab, people["a"], 7)
    reader = policy.actor_for(people["b"].user)
    seen, cursor = [], None
    while True:
        page = queries.feed(reader, collab, cursor=cursor, limit=3)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [r.id for r in reversed(made)]


def test_org_only_reflections_stay_out_of_other_feeds(space):
    collab, people = space
    _post(collab, people["a"], 2, visibility="organization")
    assert queries.feed(policy.actor_for(people["b"].user), collab).items == []
    assert len(queries.feed(policy.actor_for(people["a"].user), collab).items) == 2


def test_unread_until_the_reader_looks(space):
    collab, people = space
    _post(collab, people["a"], 2)
    reader = policy.actor_for(people["b"].user)
    assert queries.unread_count(reader, collab) == 2
    assert len(queries.feed(reader, collab).unread_ids) == 2
    operations.mark_feed_seen(reader, collab)
    db.session.commit()
    assert queries.unread_count(reader, collab) == 0
    assert queries.feed(reader, collab).unread_ids == set()


def test_bad_cursor_is_refused(space):
    collab, people = space
    with pytest.raises(queries.BadCursor):
        queries.feed(policy.actor_for(people["a"].user), collab, cursor="not-a-cursor")


def _count_queries(fn):
    return count_statements(db, fn)


def test_feed_runs_the_same_number_of_queries_for_any_page_size(space):
    collab, people = space
    for r in _post(collab, people["a"], 12):
        operations.reply(policy.actor_for(people["b"].user), r, "Same here")
    db.session.commit()

    def run(limit):
        db.session.expire_all()
        reader = policy.actor_for(people["b"].user)
        return _count_queries(lambda: queries.feed(reader, collab, limit=limit))

    assert run(2) == run(12)


def test_the_tab_badge_stops_counting_at_99_plus(space, sign_in, client):
    """The unread badge counts at most UNREAD_COUNTED reflections: a newcomer to a space
    with a year of reflections sees "99+", and the count costs one bounded query."""
    collab, people = space
    _post(collab, people["a"], queries.UNREAD_COUNTED - 1)
    reader = policy.actor_for(people["b"].user)
    assert queries.unread_count(reader, collab) == queries.UNREAD_COUNTED - 1
    sign_in(people["b"])
    badge = f'Reflections <span class="badge badge-new">{queries.UNREAD_COUNTED - 1}<span'
    assert badge in client.get(f"/c/{collab.id}").get_data(as_text=True)
    _post(collab, people["a"], 5)
    assert queries.unread_count(policy.actor_for(people["b"].user), collab) == (
        queries.UNREAD_COUNTED)
    page = client.get(f"/c/{collab.id}").get_data(as_text=True)
    assert 'Reflections <span class="badge badge-new">99+<span' in page
    assert _count_queries(lambda: queries.unread_count(
        policy.actor_for(people["b"].user), collab)) <= 3
