"""bench/seed.py, the seed of bench/http.py, at a tiny size: its rows are the operations'.

The seeder writes most rows with COPY, not through the operations, so this test holds it to
them: what it wrote is what members see (the feed, the API, the badge), the tables and columns
an operation fills are the ones it fills, and every note about a citizen it wrote would pass
the posting operation's own check. If an operation starts writing another table or column
(a table of who may know what, a stored search vector), this fails until the seeder does too.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from bench import seed as seeding
from coprod import policy
from coprod.accounts.models import User
from coprod.citizens.models import CitizenReference
from coprod.citizens.operations import check_reference
from coprod.extensions import db as _db
from coprod.reflections import operations as reflecting
from coprod.reflections.models import Reflection, Reply
from coprod.routines.models import Notification

SIZE = 60


@pytest.fixture
def seeded(db):
    return seeding.seed(db, SIZE)


@pytest.fixture
def as_first_given(db):
    """The seed before any consent changed (the bench's withdraws some afterwards)."""
    return seeding.seed(db, SIZE, consent_changes=False)


def _reader(seeded):
    return db_user(seeded.reader_email)


def db_user(email: str) -> User:
    return _db.session.scalar(select(User).where(User.email == email))


def test_the_seed_has_its_size_and_the_counts_it_reports(db, seeded):
    collaboration = seeded.collaboration_id
    assert db.session.scalar(select(func.count(Reflection.id)).where(
        Reflection.collaboration_id == collaboration)) == SIZE
    assert db.session.scalar(select(func.count(Reply.id))) == seeded.counts["replies"]
    assert db.session.scalar(select(func.count(Notification.id))) == \
        seeded.counts["notifications"]
    assert db.session.scalar(select(func.count(CitizenReference.id))) == \
        seeded.counts["references"] > 0
    assert seeded.max_reflection_id == db.session.scalar(select(func.max(Reflection.id)))
    # ids follow time, as they do when the operations insert one after the other
    order = db.session.scalars(select(Reflection.id).order_by(Reflection.created_at)).all()
    assert order == sorted(order)


def test_a_member_sees_the_seed_on_the_feed_in_the_api_and_in_the_badge(db, seeded, client):
    reader = _reader(seeded)
    actor = policy.actor_for(reader)
    readable = db.session.scalars(  # tombstones of withdrawn ones included
        policy.scoped(actor, Reflection)
        .order_by(Reflection.created_at.desc(), Reflection.id.desc())).all()
    assert 0 < len(readable) < SIZE  # some are for others only
    assert any(r.citizen_reference is not None for r in readable)  # the expensive reader

    login = client.post("/login", data={"email": reader.email, "password": seeded.password})
    assert login.status_code == 302
    feed = client.get(f"/c/{seeded.collaboration_id}/reflections").get_data(as_text=True)
    newest = next(r for r in readable if r.withdrawn_at is None)
    assert newest.body.split(" (")[0].replace("'", "&#39;") in feed
    page = client.get(f"/c/{seeded.collaboration_id}/reflections/{seeded.reflection_id}")
    assert page.status_code == 200

    api = client.get(f"/api/v1/collaborations/{seeded.collaboration_id}/reflections",
                     headers={"Authorization": f"Bearer {seeded.token}"})
    assert api.status_code == 200
    assert [item["id"] for item in api.get_json()["items"]] == [
        r.id for r in readable[:len(api.get_json()["items"])]]

    unread = re.search(r'badge badge-unread">(\d+)', feed)
    from coprod.notifications.queries import unread_count

    shown = int(unread.group(1)) if unread else 0
    assert shown == unread_count(actor)


def test_the_counters_equal_the_unread_rows(db, seeded):
    for user in db.session.scalars(select(User)):
        assert user.unread_notifications == db.session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == user.id,
                                                      Notification.read_at.is_(None)))


def test_each_note_about_a_citizen_passes_the_posting_check(db, as_first_given):
    checked = 0
    for reference in db.session.scalars(select(CitizenReference)):
        reflection = reference.reflection
        author = policy.actor_for(reflection.author)
        readers = reflecting.reader_partners(reflection.collaboration_id,
                                             reflection.visibility, reflection.partner_id,
                                             reflection.audience_partner_ids)
        check_reference(author, reflection.collaboration_id, reference.citizen_id,
                        reference.category_ids, readers)
        checked += 1
    assert checked > 0


def _row_counts(db) -> dict[str, int]:
    names = [t.name for t in _db.metadata.sorted_tables]
    return {n: db.session.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names}


def _filled_columns(db, table: str, where: str = "") -> set[str]:
    columns = [c.name for c in _db.metadata.tables[table].columns]
    found = db.session.execute(text(
        f'SELECT {", ".join(f"count({c})" for c in columns)} FROM "{table}" {where}')).one()
    return {c for c, n in zip(columns, found, strict=True) if n}


def test_the_operations_write_no_table_or_column_the_seed_leaves_empty(db, as_first_given):
    """Post, as the seed's members would, a note about a citizen to chosen partners with tags
    and a mention, and a reply: every table and column that gains a value is one the seed
    fills."""
    before = _row_counts(db)
    filled = {t for t, n in before.items() if n}
    seeded_columns = {t: _filled_columns(db, t) for t in filled}
    seeded = as_first_given
    reference = db.session.scalar(select(CitizenReference).order_by(CitizenReference.id))
    model = reference.reflection
    author = policy.actor_for(model.author)
    note = reflecting.post_reflection(
        author, _collab(db, model),
        kind="improve", perspective="citizens", component="routines", learning_level="inter",
        mode="exploitation", body="The minibus came late again.", visibility=model.visibility,
        audience=model.audience_partner_ids, tags=["minibus"], citizen=reference.citizen_id,
        categories=reference.category_ids, mentions=[])
    answer = reflecting.reply(policy.actor_for(_reader(seeded)), db.session.get(
        Reflection, seeded.reflection_id), "We see it too.")
    db.session.flush()
    after = _row_counts(db)
    written = {t for t in after if after[t] != before[t]}
    assert written - filled == set(), "tables the seed does not write"
    for table in written:
        new = _filled_columns(db, table, _newest(table, note.id, answer.id))
        assert new - seeded_columns[table] == set(), f"columns of {table} the seed leaves empty"


def _collab(db, reflection):
    from coprod.spaces.models import Collaboration

    return db.session.get(Collaboration, reflection.collaboration_id)


def _newest(table: str, reflection_id: int, reply_id: int) -> str:
    """A WHERE clause selecting the rows the two operations wrote to a table."""
    columns = {c.name for c in _db.metadata.tables[table].columns}
    if table == "reflections":
        return f"WHERE id = {reflection_id}"
    if table == "replies":
        return f"WHERE id = {reply_id}"
    if "reflection_id" in columns and "reply_id" in columns:
        return f"WHERE reflection_id = {reflection_id} OR reply_id = {reply_id}"
    if "reflection_id" in columns:
        return f"WHERE reflection_id = {reflection_id}"
    if "reference_id" in columns:
        return (f"WHERE reference_id IN (SELECT id FROM citizen_references "
                f"WHERE reflection_id = {reflection_id})")
    if table == "notifications":
        return f"WHERE key = 'reply:{reply_id}'"
    return ""
