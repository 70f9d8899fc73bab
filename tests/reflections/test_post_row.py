"""A reflection posted with the web form is written as rows (operations.post_reflection_row):
no ORM object of it goes through the unit of work, yet the rows hold everything the
operation's checks and defaults give it, tags, audience, language, citizen reference and
mentions included (the API's posts, tests/api/test_reflections.py, still answer with the
reflection as the session's object)."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, event, func, insert, select, update

from coprod import pagecache, policy
from coprod.accounts.models import Role, User
from coprod.extensions import db
from coprod.pagecache import PageEpoch
from coprod.reflections import operations
from coprod.reflections.models import Attribution, Mention, Reflection, Visibility
from coprod.routines.models import Notification
from tests.conftest import embedded_app, statements_run
from tests.factories import PASSWORD, CollaborationFactory, PartnerFactory, member
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import CLASSIFIED, reflection_form
from tests.reflections.test_post_as_reader import _browser, _danish, _new_url


@contextmanager
def unit_of_work_inserts(model):
    """with unit_of_work_inserts(Reflection) as inserted: ...  `inserted` holds each object
    of `model` the ORM's unit of work inserted inside (what a row-writing path must not)."""
    inserted: list = []

    def seen(_mapper, _connection, target) -> None:
        inserted.append(target)

    event.listen(model, "before_insert", seen)
    try:
        yield inserted
    finally:
        event.remove(model, "before_insert", seen)


def test_a_posted_form_is_written_as_rows_with_all_it_holds(app, world):
    jens = world.people.jens
    _danish(jens)
    browser = _browser(app, jens)
    with unit_of_work_inserts(Reflection) as inserted:
        answer = browser.post(_new_url(world), data=reflection_form(
            body="Overleveringer går tabt", tags="Overlevering, #Vagtplan",
            visibility="partners", audience=[world.cafe.id], attribution="organization"))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert inserted == []
    reflection = db.session.scalars(select(Reflection)).one()
    assert answer.headers["Location"].endswith(
        f"/c/{world.collab.id}/reflections/{reflection.id}#posted")
    assert (reflection.author_id, reflection.partner_id, reflection.language,
            reflection.visibility, reflection.attribution) == (
        jens.id, world.job_centre.id, "da", Visibility.PARTNERS, Attribution.ORGANIZATION)
    assert [t.name for t in reflection.tags] == ["overlevering", "vagtplan"]
    assert reflection.audience_partner_ids == {world.cafe.id}
    assert reflection.created_at is not None
    carla = world.people.carla  # the café reads it; the shelter does not
    assert "Overleveringer" in _browser(app, carla).get(
        answer.headers["Location"]).get_data(as_text=True)
    assert _browser(app, world.people.sam).get(answer.headers["Location"]).status_code == 404


def test_a_posted_form_mentioning_a_member_names_and_notifies_them(app, world):
    jens, julie = world.people.jens, world.people.julie
    answer = _browser(app, jens).post(_new_url(world), data=reflection_form(
        mentions=[julie.id]))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    reflection = db.session.scalars(select(Reflection)).one()
    assert db.session.scalars(select(Mention.user_id).where(
        Mention.reflection_id == reflection.id)).all() == [julie.id]
    assert db.session.scalar(select(Notification).where(Notification.user_id == julie.id))


def test_a_refused_form_writes_no_row(app, world):
    answer = _browser(app, world.people.jens).post(_new_url(world), data=reflection_form(
        tags="no/slashes"))
    assert answer.status_code == 422
    assert "A tag is a word" in answer.get_data(as_text=True)
    assert db.session.scalars(select(Reflection)).all() == []


def test_the_language_of_an_author_not_loaded_is_read_by_the_insert(app, world):
    jens = world.people.jens
    db.session.get(User, jens.id).locale = "fi"
    db.session.commit()  # the session's user is expired: its locale is not held
    reflection_id = operations.post_reflection_row(
        policy.actor_for(jens), world.collab, body="Tieto katoaa", **CLASSIFIED)
    db.session.commit()
    assert db.session.get(Reflection, reflection_id).language == "fi"



# -- the page token changed by the post's own INSERT (pagecache.write_last) --------------------

def _token() -> int | None:
    db.session.expire_all()
    return db.session.scalar(select(PageEpoch.token))


def test_a_plain_post_changes_the_page_token_with_its_insert(app, world):
    carla, jens = world.people.carla, world.people.jens
    reader, writer = _browser(app, carla), _browser(app, jens)
    feed, new = f"/c/{world.collab.id}/reflections", _new_url(world)
    assert "Overleveringer" not in reader.get(feed).get_data(as_text=True)  # kept now
    before = _token()
    with statements_run(db) as run:
        answer = writer.post(new, data=reflection_form(body="Overleveringer går tabt",
                                                       tags=""))
    assert answer.status_code == 302
    assert len(run) == 2, run  # the log-in with the collaboration; the INSERT with the token
    assert "new_page_token" in run[1] and not [s for s in run if s.startswith("UPDATE")]
    assert _token() != before
    assert "Overleveringer" in reader.get(feed).get_data(as_text=True)


@contextmanager
def transaction_status_after(prefix: str):
    """with transaction_status_after("WITH") as statuses: ...  then `statuses` holds the
    driver connection's transaction status after each statement beginning with `prefix`."""
    statuses: list[str] = []

    def seen(conn, cursor, statement, *args):
        if statement.startswith(prefix):
            statuses.append(cursor.connection.info.transaction_status.name)

    event.listen(db.engine, "after_cursor_execute", seen)
    try:
        yield statuses
    finally:
        event.remove(db.engine, "after_cursor_execute", seen)


@pytest.mark.committed  # outside a test's transaction, as served
@pytest.mark.parametrize("tags, alone", [("", True), ("vagtplan", False)])
def test_a_plain_post_is_written_without_begin_or_commit(app, world, tags, alone):
    """The post's INSERT, its only write, runs in autocommit: two round trips fewer. With
    tags it is one write of several, in one transaction."""
    with transaction_status_after("INSERT INTO reflections") as plain, \
            transaction_status_after("WITH new_page_token") as carrying:
        answer = _browser(app, world.people.jens).post(_new_url(world), data=reflection_form(
            body="Overleveringer går tabt", tags=tags))
    assert answer.status_code == 302
    assert carrying + plain == (["IDLE"] if alone else ["INTRANS"])
    db.session.expire_all()
    assert db.session.scalars(select(Reflection.body)).all() == ["Overleveringer går tabt"]


def test_a_post_with_more_rows_changes_the_token_when_it_commits(app, world):
    reader, writer = _browser(app, world.people.carla), _browser(app, world.people.jens)
    feed = f"/c/{world.collab.id}/reflections"
    reader.get(feed)
    before = _token()
    with statements_run(db) as run:
        answer = writer.post(_new_url(world), data=reflection_form(
            body="Vagtplanen kommer for sent", tags="vagtplan"))
    assert answer.status_code == 302
    assert [s for s in run if s.startswith("UPDATE page_epoch")], run
    assert _token() != before
    assert "Vagtplanen kommer for sent" in reader.get(feed).get_data(as_text=True)


def test_a_missing_token_row_is_made_by_the_commit(app, world):
    db.session.execute(delete(PageEpoch))
    db.session.commit()
    answer = _browser(app, world.people.jens).post(_new_url(world), data=reflection_form(
        tags=""))
    assert answer.status_code == 302
    assert _token() is not None
    assert db.session.scalar(select(func.count()).select_from(Reflection)) == 1


def test_a_write_after_the_last_write_changes_the_token_again(app, world):
    posted = operations.post_reflection(policy.actor_for(world.people.jens), world.collab,
                                        body="First", **CLASSIFIED)
    db.session.commit()
    connection = db.session.connection()
    table = Reflection.__table__
    carried = pagecache.write_last(connection, insert(table).returning(table.c.id), {
        **{c: getattr(posted, c) for c in ("collaboration_id", "author_id", "partner_id",
                                           "kind", "perspective", "component",
                                           "learning_level", "mode", "visibility",
                                           "attribution", "created_at")},
        "body": "Second", "language": "en"})
    assert carried[0] > posted.id
    with_insert = connection.scalar(select(PageEpoch.token))
    connection.execute(update(table).where(table.c.id == posted.id).values(body="Changed"))
    db.session.commit()
    assert _token() != with_insert


# -- the embedded default: SQLite ---------------------------------------------------------------

@pytest.fixture
def embedded(app, tmp_path):
    """An app on a fresh SQLite file, with a collaboration and a member of a partner."""
    with embedded_app(app, tmp_path) as sqlite:
        collab = CollaborationFactory(title="Embedded")
        partner = PartnerFactory(collaboration=collab)
        jens = member(collab, Role.PARTNER_STAFF, partner).user
        db.session.commit()
        yield SimpleNamespace(app=sqlite, collab_id=collab.id, email=jens.email)


def test_a_post_on_sqlite_is_written_and_found(embedded):
    assert db.session.get_bind().dialect.name == "sqlite"
    browser = embedded.app.test_client()
    assert browser.post("/login", data={"email": embedded.email,
                                        "password": PASSWORD}).status_code == 302
    space = f"/c/{embedded.collab_id}"
    plain = browser.post(f"{space}/reflections/new", data=reflection_form(
        body="The minibus came late again", tags=""))
    tagged = browser.post(f"{space}/reflections/new", data=reflection_form(
        body="The shift plan came late", tags="planning"))
    assert [plain.status_code, tagged.status_code] == [302, 302]
    feed = browser.get(f"{space}/reflections").get_data(as_text=True)
    assert "The minibus came late again" in feed and "The shift plan came late" in feed
    found = browser.get(f"{space}/search?q=minibus").get_data(as_text=True)
    assert "minibus</mark> came late again" in found, found
