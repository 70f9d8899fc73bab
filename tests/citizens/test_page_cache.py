"""Pages answered again from a worker's memory (coprod/pagecache.py) never show what the
reader may no longer read, never reach another reader, and are audited every time.

Each request starts from an empty session, as in production (the `fresh` client). A page is
kept once the reader's session holds its CSRF token: the first page of a log-in sets it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from coprod import pagecache
from coprod.accounts.models import Role, User
from coprod.citizens import operations as citizens
from coprod.citizens.models import (
    Citizen,
    Consent,
    ConsentGiver,
    ConsentMethod,
    ConsentStatus,
)
from coprod.extensions import db as _db
from coprod.pagecache import PageEpoch
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import FeedVisit, Reflection
from coprod.spaces.models import Collaboration
from coprod.spaces.operations import change_member
from tests.citizens import test_audit
from tests.citizens.test_audit import API, bearer, expunging, reads_of
from tests.conftest import orm_loads, statements_run
from tests.factories import PASSWORD

content, fresh = test_audit.content, test_audit.fresh  # the audit tests' world and client
NOTE_TEXT = "Anna wants caf"  # the note (JSON writes é as \\u00e9)


def _kept(db, fetch) -> tuple[str, list[str]]:
    """(the page's text, the statements its request ran)."""
    with statements_run(db) as run:
        response = fetch()
    assert response.status_code == 200
    return response.get_data(as_text=True), run


def _answered_from_memory(statements: list[str]) -> bool:
    """No reflection was loaded (the audit's check of what was read selects ids only)."""
    return not any("reflections.body" in s for s in statements)


def _read_twice(db, fetch) -> str:
    """Read a page until it is kept, then once more: that last answer comes from memory."""
    fetch()  # the log-in's first page sets the session's CSRF token
    fetch()
    text, run = _kept(db, fetch)
    assert _answered_from_memory(run), run
    return text


def test_a_page_answered_again_is_audited_again(db, world, content, fresh, login):
    login(world.cafe_staff)
    paths = {"/c/{c}/reflections": {("reflection", content.note)},
             "/c/{c}/reflections/{note}": {("reflection", content.note),
                                           ("reply", content.reply)}}
    for path, items in paths.items():
        url = path.format(**vars(content))
        _read_twice(db, lambda u=url: fresh.get(u))
        expected = {(kind, ident, "page", content.cafe_staff, content.cafe)
                    for kind, ident in items}
        with statements_run(db) as run:
            assert reads_of(db, lambda u=url: fresh.get(u)) == expected
        assert _answered_from_memory(run)


def test_an_api_list_answered_again_is_audited_again(db, world, content, fresh):
    headers = bearer(db, world.cafe_staff)
    url = API.format(c=content.c) + "/reflections"
    body = _read_twice(db, lambda: fresh.get(url, headers=headers))
    assert NOTE_TEXT in body
    assert reads_of(db, lambda: fresh.get(url, headers=headers)) == {
        ("reflection", content.note, "api", content.cafe_staff, content.cafe)}


def test_a_withdrawal_reaches_a_kept_page_at_once(db, world, content, fresh, login):
    headers = bearer(db, world.cafe_staff)
    guardian, consent = world.guardian.id, world.consent.id
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    assert NOTE_TEXT in _read_twice(db, lambda: fresh.get(feed))
    api = API.format(c=content.c) + "/reflections"
    assert NOTE_TEXT in _read_twice(db, lambda: fresh.get(api, headers=headers))

    citizens.withdraw_consent(actor_for(db.session.get(User, guardian)),
                              db.session.get(Consent, consent), partner_id=content.cafe)
    db.session.commit()

    assert NOTE_TEXT not in fresh.get(feed).get_data(as_text=True)
    assert NOTE_TEXT not in fresh.get(api, headers=headers).get_data(as_text=True)
    assert fresh.get(f"{feed}/{content.note}").status_code == 404
    assert reads_of(db, lambda: fresh.get(feed)) == set()


def test_a_consent_that_ends_by_itself_takes_the_note_off_a_kept_page(db, world, content,
                                                                      fresh, login):
    """No write happens when a period ends: the key holds the next end, not only the token.
    The consent ends at 00:05 of an hour (a record made here, not through the form, whose
    periods end at local midnight), so both reads fall in one quarter of an hour."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    db.session.add(Consent(
        citizen_id=world.citizen.id, status=ConsentStatus.PERMIT, replaces_id=world.consent.id,
        given_by=ConsentGiver.GUARDIAN, method=ConsentMethod.PAPER, purpose="Briefly",
        starts_at=world.consent.starts_at, ends_at=hour + timedelta(minutes=5),
        partners=[world.jobcentre, world.cafe], categories=[world.contact, world.preferences]))
    db.session.commit()
    login(world.cafe_staff)
    feed, page = f"/c/{content.c}/reflections", f"/c/{content.c}/reflections/{content.note}"
    with freeze_time(hour + timedelta(minutes=1)):
        assert NOTE_TEXT in _read_twice(db, lambda: fresh.get(feed))
        assert NOTE_TEXT in _read_twice(db, lambda: fresh.get(page))
    token = db.session.scalar(select(PageEpoch.token))

    with freeze_time(hour + timedelta(minutes=7)):
        assert NOTE_TEXT not in fresh.get(feed).get_data(as_text=True)
        assert fresh.get(page).status_code == 404
    db.session.rollback()
    assert db.session.scalar(select(PageEpoch.token)) == token  # nothing was written


def test_a_kept_page_reaches_no_other_reader_and_no_other_log_in(db, world, content, fresh,
                                                                  login, new_client):
    shelter_email, cafe_email = world.shelter_staff.email, world.cafe_staff.email
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    mine = _read_twice(db, lambda: fresh.get(feed))
    assert NOTE_TEXT in mine

    other = _fresh_client(db, new_client)
    other.post("/login", data={"email": shelter_email, "password": PASSWORD})
    theirs = other.get(feed).get_data(as_text=True)
    assert "Opening hours of the shelter" in theirs and NOTE_TEXT not in theirs

    second = _fresh_client(db, new_client)  # the same person elsewhere: a log-in of its own
    second.post("/login", data={"email": cafe_email, "password": PASSWORD})
    first = second.get(feed).get_data(as_text=True)
    assert NOTE_TEXT in first, first
    again = second.get(feed).get_data(as_text=True)
    assert NOTE_TEXT in again
    assert _csrf(again) != _csrf(mine)  # each page carries its own session's token


def test_a_message_shown_after_a_form_is_shown_once(db, world, content, fresh, login):
    """A page that shows a flashed message is built (it uses the message up), then kept."""
    login(world.cafe_staff)
    page = f"/c/{content.c}/reflections/{content.plain}"
    before = _read_twice(db, lambda: fresh.get(page))
    response = fresh.post(f"{page}/replies", data={"reply-csrf_token": _csrf(before),
                                                   "reply-body": "Sundays too?"})
    assert response.status_code in (302, 303)
    shown = fresh.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your reply is posted." in shown and "Sundays too?" in shown
    again = _read_twice(db, lambda: fresh.get(response.headers["Location"]))
    assert "Your reply is posted." not in again and "Sundays too?" in again
    # A message left by a request that wrote nothing finds the page kept: it is built again.
    with fresh.session_transaction() as browser_session:
        browser_session["_flashes"] = [("info", "Nothing was changed.")]
    assert "Nothing was changed." in fresh.get(response.headers["Location"]).get_data(
        as_text=True)


def test_a_new_reflection_by_another_member_shows_up_marked_unread(db, world, content, fresh,
                                                                   login):
    shelter_staff = world.shelter_staff.id
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    _read_twice(db, lambda: fresh.get(feed))
    reflections.post_reflection(actor_for(db.session.get(User, shelter_staff)),
                                db.session.get(Collaboration, content.c),
                                body="Dogs need walkers on Sundays", kind="works",
                                perspective="local", component="assets",
                                learning_level="intra", mode="exploitation")
    db.session.commit()
    shown = fresh.get(feed).get_data(as_text=True)
    assert "Dogs need walkers on Sundays" in shown and _unread_count(shown) == 1
    assert _unread_count(_read_twice(db, lambda: fresh.get(feed))) == 0


def test_a_write_not_yet_committed_is_not_answered_from_memory(db, world, content, fresh,
                                                               login):
    """A request on a connection that holds an uncommitted change reads what it holds."""
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    _read_twice(db, lambda: fresh.get(feed))
    plain = db.session.get(Reflection, content.plain)
    plain.body = "Opening hours change in January"
    db.session.flush()
    assert "Opening hours change in January" in fresh.get(feed).get_data(as_text=True)
    db.session.rollback()


def test_only_writes_of_what_pages_show_change_the_token(db, world, content):
    def token():
        _db.session.expire_all()
        return _db.session.scalar(select(PageEpoch.token))

    before = token()
    _db.session.merge(FeedVisit(user_id=world.cafe_staff.id, collaboration_id=content.c,
                                seen_at=datetime.now(UTC)))
    _db.session.commit()
    assert token() == before
    reflections.react(actor_for(world.cafe_staff), _db.session.get(Reflection, content.plain))
    _db.session.commit()
    assert token() != before


def test_without_a_cache_every_page_is_built(db, world, content, app, fresh, login,
                                             monkeypatch):
    monkeypatch.setitem(app.extensions, "coprod_page_cache",
                        type(app.extensions["coprod_page_cache"])(maxsize=0))
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    for _ in range(3):
        text, run = _kept(db, lambda: fresh.get(feed))
        assert NOTE_TEXT in text
    assert not _answered_from_memory(run)


def _fresh_client(db, new_client):
    """Another browser whose requests start from an empty session, as `fresh`'s do."""
    return expunging(db, new_client())


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert found is not None
    return found.group(1)


def _unread_count(html: str) -> int:
    return len(re.findall(r'class="reflection-item[^"]*\bis-unread\b', html))


# -- a kept page is always the page that would be built ----------------------------------

READERS = ("cafe_staff", "shelter_staff", "case_worker", "coordinator", "lone_coordinator")


def _without_signed_tokens(html: str) -> str:
    """A page less its CSRF tokens: each build signs the session's secret with the time."""
    return re.sub(r'(csrf_token"[^>]*value=")[^"]*', r"\1", html)


def _changes(db, world, content):
    """Operations that change what someone reads, each as the operations make it."""
    ids = {name: getattr(world, name).id for name in (
        "guardian", "coordinator", "case_worker", "cafe_staff", "shelter_staff")}
    consent, citizen = world.consent.id, world.citizen.id
    categories = [world.contact.id, world.preferences.id]
    partners = {"jobcentre": world.jobcentre.id, "cafe": world.cafe.id,
                "shelter": world.shelter.id}

    def actor(name):
        return actor_for(db.session.get(User, ids[name]))

    def reflection(key):
        return db.session.get(Reflection, getattr(content, key))

    def collaboration():
        return db.session.get(Collaboration, content.c)

    def cafe_membership():
        from coprod.spaces.models import Membership

        return db.session.scalar(select(Membership).where(
            Membership.user_id == ids["cafe_staff"], Membership.collaboration_id == content.c))

    plain = dict(kind="improve", perspective="citizens", component="resources",
                 learning_level="inter", mode="exploitation")
    return [
        ("a post", lambda: reflections.post_reflection(
            actor("shelter_staff"), collaboration(), body="Dogs need walkers", **plain)),
        ("a reply", lambda: reflections.reply(actor("cafe_staff"), reflection("plain"),
                                              "We open at nine")),
        ("a withdrawal of consent", lambda: citizens.withdraw_consent(
            actor("guardian"), db.session.get(Consent, consent), partner_id=partners["cafe"])),
        ("a new consent", lambda: citizens.give_consent(
            actor("coordinator"), db.session.get(Citizen, citizen),
            partner_ids=[partners["jobcentre"], partners["cafe"]], category_ids=categories,
            purpose="Again", given_by=ConsentGiver.GUARDIAN, given_by_name="Guardian",
            method=ConsentMethod.PAPER)),
        ("an edit", lambda: reflections.edit_reflection(
            actor("shelter_staff"), reflection("plain"), body="Opening hours change",
            visibility="collaboration", attribution="person", **plain)),
        ("a reaction", lambda: reflections.react(actor("cafe_staff"), reflection("plain"))),
        ("a move to another organization", lambda: change_member(
            actor("coordinator"), cafe_membership(), role=Role.PARTNER_STAFF,
            partner_id=partners["shelter"])),
        ("a withdrawn reflection", lambda: reflections.withdraw_reflection(
            actor("shelter_staff"), reflection("plain"))),
    ]


def test_a_kept_page_is_the_page_built_after_every_change(db, world, content, new_client):
    """After each change, every reader's pages come again (kept if they may be) and are
    compared with the same pages built from nothing: a stale kept page would differ."""
    emails = {name: getattr(world, name).email for name in READERS}
    changes = _changes(db, world, content)
    browsers = {}
    for name in READERS:
        browsers[name] = _fresh_client(db, new_client)
        browsers[name].post("/login", data={"email": emails[name], "password": PASSWORD})
    paths = [f"/c/{content.c}/reflections", f"/c/{content.c}/reflections/{content.note}",
             f"/c/{content.c}/reflections/{content.plain}"]
    kept = 0
    for what, change in [("nothing", lambda: None), *changes]:
        change()
        db.session.commit()
        for name, browser in browsers.items():
            for path in paths:
                browser.get(path)  # marks the feed seen; may keep the page
                with statements_run(db) as run:
                    again = browser.get(path)
                kept += _answered_from_memory(run)
                pagecache.clear()
                built = browser.get(path)
                assert again.status_code == built.status_code, (what, name, path)
                assert _without_signed_tokens(again.get_data(as_text=True)) == \
                    _without_signed_tokens(built.get_data(as_text=True)), (what, name, path)
    assert kept >= len(READERS) * len(paths)  # the comparison did meet kept pages


def test_a_search_leaves_kept_pages_kept(db, world, content, fresh, login):
    """A search's statements begin with WITH (common table expressions): they only read, so
    they change no token and every kept page stays kept (before, each search started every
    page anew for every reader)."""
    headers = bearer(db, world.cafe_staff)
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    _read_twice(db, lambda: fresh.get(feed))
    token = db.session.scalar(select(PageEpoch.token))
    for path, extra in ((f"/c/{content.c}/search?q=hours", {}),
                        (API.format(c=content.c) + "/search?q=hours", headers)):
        with statements_run(db) as run:
            assert fresh.get(path, headers=extra).status_code == 200
        assert any(s.lstrip().upper().startswith("WITH") for s in run), run
    db.session.rollback()
    assert db.session.scalar(select(PageEpoch.token)) == token
    _text, run = _kept(db, lambda: fresh.get(feed))
    assert _answered_from_memory(run), run


def test_a_page_answered_again_makes_no_orm_object_of_its_reader(db, world, content, fresh,
                                                                 login):
    """The reader of a kept page is one plain row (sessions.PageReader): no user and no log-in
    are loaded as the ORM's objects; a page built after a change gets the full user."""
    from coprod.accounts.sessions import UserSession

    name = world.cafe_staff.display_name
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    _read_twice(db, lambda: fresh.get(feed))
    with orm_loads(User, UserSession) as loaded:
        text, run = _kept(db, lambda: fresh.get(feed))
        log_ins = [s for s in run if "FROM user_sessions" in s]
        assert len(log_ins) == 1 and "password_hash" not in log_ins[0], run  # plain columns
        assert loaded == [], loaded
        assert _answered_from_memory(run) and name in text

        _db.session.get(Reflection, content.note).body += " (and Saturdays)"
        _db.session.commit()
        rebuilt, _run = _kept(db, lambda: fresh.get(feed))
        assert "Saturdays" in rebuilt and sorted({name for name, _id in loaded}) == [
            "User", "UserSession"]


def test_a_kept_page_answers_a_deactivated_reader_logged_out(db, world, content, fresh,
                                                            login):
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    _read_twice(db, lambda: fresh.get(feed))
    _db.session.get(User, world.cafe_staff.id).is_active = False
    _db.session.commit()
    answer = fresh.get(feed)
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_an_api_list_answered_again_makes_no_orm_object_of_its_reader(db, world, content,
                                                                      fresh):
    """As a log-in's page: the token and its user are one plain row while the list is kept."""
    from coprod.accounts.models import ApiToken

    headers = bearer(db, world.cafe_staff)
    url = API.format(c=content.c) + "/reflections"
    _read_twice(db, lambda: fresh.get(url, headers=headers))
    with orm_loads(User, ApiToken) as loaded:
        body, run = _kept(db, lambda: fresh.get(url, headers=headers))
    tokens = [s for s in run if "FROM api_tokens" in s]
    assert len(tokens) == 1 and "password_hash" not in tokens[0], run
    assert loaded == [] and NOTE_TEXT in body, loaded


def test_a_kept_page_is_kept_apart_for_each_language_it_is_shown_in(db, world, content, fresh,
                                                                    login):
    """A reader whose saved language is no longer offered reads in the browser's: the page
    kept for one language is not the answer in another (the key holds the request's choice
    of language and time zone)."""
    _db.session.get(User, world.cafe_staff.id).locale = "sv"
    _db.session.commit()
    login(world.cafe_staff)
    feed = f"/c/{content.c}/reflections"
    english = _read_twice(db, lambda: fresh.get(feed, headers={"Accept-Language": "en"}))
    danish, run = _kept(db, lambda: fresh.get(feed, headers={"Accept-Language": "da"}))
    assert '<html lang="en"' in english and '<html lang="da"' in danish
    assert not _answered_from_memory(run)  # built for Danish, then kept for it too
    again = _read_twice(db, lambda: fresh.get(feed, headers={"Accept-Language": "da"}))
    assert '<html lang="da"' in again
