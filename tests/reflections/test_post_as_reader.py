"""Writing as a plain reader (accounts.sessions.posts_as_reader): posting a reflection, a reply,
a reaction or a message reads the log-in as one plain row and makes no ORM object of the
author or their log-in, yet stores what the operations store, the text's language included
(the author's); a log-in that ended, or an account deactivated, posts nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, select

from coprod.accounts.models import User
from coprod.accounts.operations import create_token
from coprod.accounts.sessions import UserSession
from coprod.extensions import db
from coprod.messages.models import Message
from coprod.reflections.models import Reaction, Reflection, Reply
from coprod.spaces.models import CollaborationStatus
from tests.conftest import OwnContextClient, orm_loads, statements_run
from tests.factories import PASSWORD
from tests.reflections.page_fixtures import *  # noqa: F403
from tests.reflections.page_fixtures import post, reflection_form


def _browser(app, user) -> OwnContextClient:
    """A browser logged in as `user` whose requests run in sessions of their own, as in
    production (the test's session would hold the user already loaded)."""
    browser = OwnContextClient(app, app.response_class, use_cookies=True)
    answer = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return browser


def _danish(user) -> None:
    db.session.get(User, user.id).locale = "da"
    db.session.commit()


def _new_url(world) -> str:
    return f"/c/{world.collab.id}/reflections/new"


def test_a_reflection_posted_as_a_reader_is_the_authors_in_their_language(app, world):
    jens = world.people.jens
    _danish(jens)
    browser = _browser(app, jens)
    with orm_loads(User, UserSession) as loaded:
        answer = browser.post(_new_url(world), data=reflection_form(
            body="Overleveringer mellem os går tabt"))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert loaded == [], loaded
    reflection = db.session.scalars(select(Reflection)).one()
    assert (reflection.author_id, reflection.partner_id, reflection.language) == (
        jens.id, world.job_centre.id, "da")
    assert "Overleveringer" in browser.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_reply_a_reaction_and_a_message_are_posted_as_a_reader(app, world):
    jens, carla = world.people.jens, world.people.carla
    _danish(jens)
    note = post(world.collab, carla)
    browser = _browser(app, jens)
    page = f"/c/{world.collab.id}/reflections/{note.id}"
    with orm_loads(User, UserSession) as loaded:
        replied = browser.post(f"{page}/replies", data={"reply-body": "Det kender vi godt"})
        reacted = browser.post(f"{page}/reaction", data={"on": "1"})
        wrote = browser.post(f"/c/{world.collab.id}/messages/new", data={
            "participants": [carla.id], "subject": "Overlevering",
            "body": "Skal vi mødes om det?"})
    assert [r.status_code for r in (replied, reacted, wrote)] == [302] * 3
    # No log-in made an ORM object (the users named, notified or offered are loaded as data).
    assert not [name for name, _id in loaded if name == "UserSession"], loaded
    reply = db.session.scalars(select(Reply)).one()
    assert (reply.author_id, reply.language, reply.body) == (jens.id, "da", "Det kender vi godt")
    assert db.session.scalars(select(Reaction.partner_id)).all() == [world.job_centre.id]
    message = db.session.scalars(select(Message)).one()
    assert (message.author_id, message.language) == (jens.id, "da")


def test_a_post_after_the_log_in_ended_or_the_account_closed_stores_nothing(app, world):
    jens = world.people.jens
    ended = _browser(app, jens)
    db.session.execute(UserSession.__table__.delete().where(UserSession.user_id == jens.id))
    db.session.commit()
    answer = ended.post(_new_url(world), data=reflection_form())
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]

    closed = _browser(app, jens)
    db.session.get(User, jens.id).is_active = False
    db.session.commit()
    answer = closed.post(_new_url(world), data=reflection_form())
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert db.session.scalars(select(Reflection)).all() == []


def test_a_post_whose_log_in_is_due_to_be_noted_notes_it(app, world):
    """Once a minute a log-in's last use is written: that post takes the ORM's path."""
    jens = world.people.jens
    browser = _browser(app, jens)
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == jens.id)).one()
    row.last_seen_at -= timedelta(minutes=5)
    db.session.commit()
    before = row.last_seen_at
    answer = browser.post(_new_url(world), data=reflection_form())
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(UserSession, row.id).last_seen_at > before
    assert db.session.scalars(select(Reflection.author_id)).all() == [jens.id]


# -- the collaboration read with the log-in -----------------------------------------------------

def _reads_of_collaborations(run: list[str]) -> list[str]:
    """The statements that load one collaboration by its key (Session.get's)."""
    return [s for s in run if re.search(
        r"FROM collaborations\s+WHERE collaborations\.id = ", s)]


def test_a_post_reads_its_collaboration_with_the_log_in(app, world):
    """The log-in's statement reads the URL's collaboration; no statement of its own does."""
    jens, carla = world.people.jens, world.people.carla
    note = post(world.collab, carla)
    browser = _browser(app, jens)
    space, carla_id = f"/c/{world.collab.id}", carla.id
    page = f"{space}/reflections/{note.id}"
    with statements_run(db) as run:  # the test's own objects are not read inside
        posted = browser.post(f"{space}/reflections/new", data=reflection_form())
        replied = browser.post(f"{page}/replies", data={"reply-body": "We see it too"})
        wrote = browser.post(f"{space}/messages/new", data={
            "participants": [carla_id], "subject": "Handovers", "body": "Shall we meet?"})
    assert [r.status_code for r in (posted, replied, wrote)] == [302] * 3
    assert _reads_of_collaborations(run) == []
    assert [s for s in run if "LEFT OUTER JOIN collaborations" in s], run
    assert db.session.scalar(select(Message.body)) == "Shall we meet?"


def test_a_post_to_a_collaboration_one_may_not_post_to_is_refused_as_before(app, world):
    """The collaboration read with the log-in goes through the policy as one loaded alone."""
    jens = world.people.jens
    browser = _browser(app, jens)
    elsewhere = browser.post(f"/c/{world.elsewhere.id}/reflections/new",
                             data=reflection_form())
    missing = browser.post("/c/999999/reflections/new", data=reflection_form())
    observer = _browser(app, world.people.observer).post(_new_url(world),
                                                         data=reflection_form())
    world.collab.status = CollaborationStatus.ARCHIVED
    db.session.commit()
    archived = browser.post(_new_url(world), data=reflection_form())
    assert [elsewhere.status_code, missing.status_code, observer.status_code,
            archived.status_code] == [404, 404, 403, 403]
    assert "archived" in archived.get_data(as_text=True)
    assert db.session.scalars(select(Reflection)).all() == []


def test_a_refused_post_shows_the_form_with_what_the_collaboration_relates_to(app, world):
    """What the collaboration read with the log-in relates to (its partners) loads on use."""
    answer = _browser(app, world.people.jens).post(_new_url(world), data=reflection_form(
        visibility="partners"))  # and no partner chosen
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Choose at least one other partner organization." in page
    assert "Café Solsikke" in page and "Animal shelter" in page


def test_a_refused_post_loads_the_rest_of_the_collaboration_once(app, world):
    """The log-in's statement reads the collaboration's id and status only; the form shown
    again shows its title and the rest, loaded by one statement."""
    world.collab.title = "Meaningful work in Lindely"
    db.session.commit()
    browser, url = _browser(app, world.people.jens), _new_url(world)
    with statements_run(db) as run:  # the test's own objects are not read inside
        answer = browser.post(url, data=reflection_form(visibility="partners"))
    assert answer.status_code == 422
    assert "Meaningful work in Lindely" in answer.get_data(as_text=True)
    assert len(_reads_of_collaborations(run)) == 1, run


# -- statements rendered once -------------------------------------------------------------------

@contextmanager
def rendered_again(db) -> Iterator[list[str]]:
    """with rendered_again(db) as again: ...  `again` lists the statements run inside whose
    SQL SQLAlchemy renders anew at every execution ("post-compile" parameters, written into
    the text) instead of once, from its cache."""
    again: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is not None and (compiled.post_compile_params
                                     or compiled.literal_execute_params):
            again.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield again
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_a_post_and_a_token_run_statements_rendered_once(app, world):
    """The statements of a post, and of an API token's look-up, both reading the member's
    seats, are SQLAlchemy's cached text: the seats' separator was a value written into the
    text at every request."""
    jens = world.people.jens
    _token, secret = create_token(db.session.get(User, jens.id), "tests")
    db.session.commit()
    browser = _browser(app, jens)
    with rendered_again(db) as again:
        posted = browser.post(_new_url(world), data=reflection_form())
        me = OwnContextClient(app).get("/api/v1/me",
                                       headers={"Authorization": f"Bearer {secret}"})
    assert [posted.status_code, me.status_code] == [302, 200]
    assert again == []


def test_the_first_statement_of_a_page_and_a_post_binds_only_what_varies(app, world):
    """The log-in's statement, which every page and post runs first, and a post's INSERT bind
    the values of the request (the log-in, the collaboration, the moment, the reflection),
    never a constant of the SQL (the seats' separators, the page token's row id), which
    SQLAlchemy names param_1, coalesce_1, id_1: each bound value is processed and sent with
    every execution."""
    jens = world.people.jens
    browser = _browser(app, jens)
    browser.get(f"/c/{world.collab.id}/reflections")  # the page's state is read from now on
    bound: dict[str, list[str]] = {}

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM user_sessions" in statement or statement.lstrip().startswith(
                ("WITH new_page_token", "INSERT INTO reflections")):
            bound.setdefault(statement.split()[0], []).extend(parameters)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        page = browser.get(f"/c/{world.collab.id}/reflections")
        posted = browser.post(_new_url(world), data=reflection_form())
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [page.status_code, posted.status_code] == [200, 302]
    assert "SELECT" in bound and len(bound) == 2  # the log-ins; the INSERT (with the token)
    constants = [name for names in bound.values() for name in names
                 if re.fullmatch(r"(param|coalesce|id)_\d+", name)]
    assert constants == []
