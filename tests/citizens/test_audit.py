"""The audit: every read of content about a citizen, in every channel, and every consent change.

Each request here starts from an empty session, as a production request does (the test client
shares one app context, and so one session, between requests).
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from coprod import pagecache
from coprod.accounts.models import User
from coprod.accounts.operations import create_token
from coprod.citizens import operations as citizens
from coprod.citizens.models import AuditAction, AuditEvent, Channel
from coprod.messages import operations as messages
from coprod.messages.models import Message
from coprod.policy import actor_for
from coprod.reflections import export
from coprod.reflections import operations as reflections
from coprod.reflections.models import Visibility
from coprod.spaces.models import Collaboration
from tests.conftest import statements_run
from tests.factories import PASSWORD

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")


@pytest.fixture
def content(db, world):
    """A note about the citizen (job centre + café), a reply and an action on it, a message
    about the citizen to café staff, and a reflection about nobody everyone reads; all hold
    the word "hours". Plain ids and names only: requests start from an empty session."""
    worker = actor_for(world.case_worker)
    note = reflections.post_reflection(
        worker, world.collaboration, body="Anna wants café hours", citizen=world.citizen.id,
        categories=[world.preferences.id], visibility=Visibility.PARTNERS,
        audience=[world.cafe.id], **NOTE)
    answer = reflections.reply(worker, note, "Tuesday hours suit her",
                               citizen=world.citizen.id, categories=[world.preferences.id])
    action = reflections.create_action(actor_for(world.coordinator), note,
                                       title="Offer café shifts", owner_partner_id=world.cafe.id)
    conversation = messages.start_conversation(
        worker, world.collaboration, [world.cafe_staff.id], "Anna", "Her hours: mornings",
        citizen=world.citizen.id, categories=[world.contact.id])
    plain = reflections.post_reflection(actor_for(world.shelter_staff), world.collaboration,
                                        body="Opening hours of the shelter", **NOTE)
    db.session.commit()
    message = db.session.scalar(select(Message.id).where(
        Message.conversation_id == conversation.id))
    return SimpleNamespace(
        c=world.collaboration.id, note=note.id, reply=answer.id, action=action.id,
        conversation=conversation.id, message=message, plain=plain.id,
        cafe=world.cafe.id, cafe_staff=world.cafe_staff.id, citizen=world.citizen.id,
        case_worker=world.case_worker.id, preferences=world.preferences.id)


def expunging(db, client):
    """The client, each request starting with an empty identity map (as in production)."""
    original = client.open

    def open_fresh(*args, **kwargs):
        db.session.expunge_all()
        return original(*args, **kwargs)

    client.open = open_fresh
    return client


@pytest.fixture
def fresh(db, client):
    return expunging(db, client)


def last_event_id(db) -> int:
    return db.session.scalar(select(func.max(AuditEvent.id))) or 0


def reads_of(db, fetch) -> set[tuple]:
    """(object_type, object_id, channel, user, partner) of the READ events `fetch` caused."""
    before = last_event_id(db)
    response = fetch()
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    response.get_data()  # a streamed export runs to its end
    db.session.rollback()
    rows = db.session.scalars(select(AuditEvent).where(
        AuditEvent.id > before, AuditEvent.action == AuditAction.READ)).all()
    return {(e.object_type, e.object_id, e.channel, e.user_id, e.partner_id) for e in rows}


PAGES = {
    "feed": ("/c/{c}/reflections", {("reflection", "note")}),
    "reflection page": ("/c/{c}/reflections/{note}", {("reflection", "note"), ("reply", "reply")}),
    "actions": ("/c/{c}/actions", {("reflection", "note")}),
    "search": ("/c/{c}/search?q=hours",
               {("reflection", "note"), ("reply", "reply"), ("message", "message")}),
    "conversation": ("/c/{c}/messages/{conversation}", {("message", "message")}),
}
EXPORTS = {
    "reflections csv": ("/c/{c}/export.csv", {("reflection", "note")}),
    "replies csv": ("/c/{c}/export-replies.csv", {("reply", "reply")}),
    "json": ("/c/{c}/export.json", {("reflection", "note"), ("reply", "reply")}),
}
API = "/api/v1/collaborations/{c}"
API_READS = {
    "feed": (API + "/reflections", {("reflection", "note")}),
    "reflection": (API + "/reflections/{note}", {("reflection", "note")}),
    "replies": (API + "/reflections/{note}/replies", {("reply", "reply")}),
    "reply": (API + "/reflections/{note}/replies/{reply}", {("reply", "reply")}),
    "messages": (API + "/conversations/{conversation}/messages", {("message", "message")}),
    "search": (API + "/search?q=hours",
               {("reflection", "note"), ("reply", "reply"), ("message", "message")}),
    "actions": (API + "/actions", {("reflection", "note")}),
}


def expected(content, items, channel) -> set[tuple]:
    return {(kind, getattr(content, key), channel, content.cafe_staff, content.cafe)
            for kind, key in items}


@pytest.mark.parametrize("channel", sorted(PAGES))
def test_a_page_read_by_cafe_staff_is_audited(db, world, content, fresh, login, channel):
    path, items = PAGES[channel]
    login(world.cafe_staff)
    found = reads_of(db, lambda: fresh.get(path.format(**vars(content))))
    assert found == expected(content, items, Channel.PAGE)


@pytest.mark.parametrize("channel", sorted(EXPORTS))
def test_an_export_by_cafe_staff_is_audited(db, world, content, fresh, login, channel):
    path, items = EXPORTS[channel]
    login(world.cafe_staff)
    found = reads_of(db, lambda: fresh.get(path.format(**vars(content))))
    assert found == expected(content, items, Channel.EXPORT)


@pytest.mark.parametrize("channel", sorted(API_READS))
def test_an_api_read_by_cafe_staff_is_audited(db, world, content, fresh, channel):
    path, items = API_READS[channel]
    headers = bearer(db, world.cafe_staff)
    found = reads_of(db, lambda: fresh.get(path.format(**vars(content)), headers=headers))
    assert found == expected(content, items, Channel.API)


def test_the_api_export_counts_as_an_export(db, world, content, fresh):
    headers = bearer(db, world.cafe_staff)
    found = reads_of(db, lambda: fresh.get(API.format(c=content.c) + "/export",
                                           headers=headers))
    assert found == expected(content, {("reflection", "note"), ("reply", "reply")},
                             Channel.EXPORT)


# Every streamed export, as a production worker runs it: the request's session is gone when
# the body streams. One reader reads the note about the citizen, the other reads nothing of it.
STREAMED = {
    "reflections csv": ("/c/{c}/export.csv", {("reflection", "note")}),
    "replies csv": ("/c/{c}/export-replies.csv", {("reply", "reply")}),
    "json": ("/c/{c}/export.json", {("reflection", "note"), ("reply", "reply")}),
    "api": (API + "/export", {("reflection", "note"), ("reply", "reply")}),
}


def streamed_export(db, world, client, channel: str, reader: str):
    """(the response of an export read to its end, the READ events it wrote)."""
    path, _items = STREAMED[channel]
    user = getattr(world, reader)
    headers = bearer(db, user) if channel == "api" else {}
    if channel != "api":
        client.post("/login", data={"email": user.email, "password": PASSWORD})
    before = last_event_id(db)
    response = client.get(path.format(c=world.collaboration.id), headers=headers)
    db.session.rollback()
    return response, reads_since(db, before)


def reads_since(db, before: int) -> set[tuple]:
    return {(e.object_type, e.object_id, e.channel, e.user_id, e.partner_id)
            for e in db.session.scalars(select(AuditEvent).where(
                AuditEvent.id > before, AuditEvent.action == AuditAction.READ))}


@pytest.mark.parametrize("reader", ["cafe_staff", "shelter_staff"])
@pytest.mark.parametrize("channel", sorted(STREAMED))
def test_every_export_streams_to_its_end_for_every_reader(db, world, content,
                                                          own_context_client, channel, reader):
    response, found = streamed_export(db, world, own_context_client, channel, reader)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    if channel in ("json", "api"):
        document = json.loads(body)
        assert document["collaboration"] == {"id": content.c, "title": "Meaningful work"}
        bodies = {r["body"] for r in document["reflections"]}
    else:
        bodies = {row.get("body") for row in csv.DictReader(io.StringIO(body[1:]))}
    _path, items = STREAMED[channel]
    if reader == "cafe_staff":
        assert found == expected(content, items, Channel.EXPORT)
        if channel != "replies csv":
            assert {"Anna wants café hours", "Opening hours of the shelter"} <= bodies
    else:
        assert found == set()
        assert "Anna wants café hours" not in str(bodies)


@pytest.mark.parametrize("channel", sorted(STREAMED))
def test_an_export_that_fails_before_delivering_anything_writes_no_read(
        db, world, content, own_context_client, monkeypatch, channel):
    def gone(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(export, "_replies_of", gone)
    with pytest.raises(RuntimeError, match="went away"):
        streamed_export(db, world, own_context_client, channel, "cafe_staff")
    db.session.rollback()
    assert reads_since(db, 0) == set()


@pytest.mark.parametrize("channel", sorted(STREAMED))
def test_an_export_that_fails_midway_writes_what_it_delivered(
        db, world, content, own_context_client, monkeypatch, channel):
    """One reflection a chunk: the note (oldest) is delivered, the next chunk fails."""
    real, calls = export._replies_of, []

    def fails_the_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "CHUNK", 1)
    monkeypatch.setattr(export, "_replies_of", fails_the_second_time)
    with pytest.raises(RuntimeError, match="went away"):
        streamed_export(db, world, own_context_client, channel, "cafe_staff")
    db.session.rollback()
    assert reads_since(db, 0) == expected(content, STREAMED[channel][1], Channel.EXPORT)


def test_an_export_the_reader_leaves_midway_writes_what_it_delivered(
        db, world, content, client, monkeypatch):
    """Two reflections a chunk: the note is sent, the plain one is on its way when the reader
    goes away; the note's read is written (the rest of its chunk was never delivered)."""
    monkeypatch.setattr(export, "CHUNK", 2)
    client.post("/login", data={"email": world.cafe_staff.email, "password": PASSWORD})
    response = client.get(f"/c/{content.c}/export.csv", buffered=False)
    pieces = iter(response.response)
    header, note = next(pieces).decode(), next(pieces).decode()
    assert "Anna wants café hours" in note and "body" in header
    assert "Opening hours" in next(pieces).decode()  # the note counts as delivered now
    response.close()  # the reader goes away before the end
    db.session.rollback()
    assert reads_since(db, 0) == expected(content, {("reflection", "note")}, Channel.EXPORT)


def bearer(db, user) -> dict[str, str]:
    _token, secret = create_token(user, "tests")
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_shelter_staff_reading_everything_writes_nothing(db, world, content, fresh, login):
    """The shelter reads the reflection about nobody in every channel, never the note."""
    login(world.shelter_staff)
    for path, _items in (*PAGES.values(), *EXPORTS.values()):
        if "{note}" in path or "{conversation}" in path:
            assert fresh.get(path.format(**vars(content))).status_code == 404
            continue
        assert reads_of(db, lambda p=path: fresh.get(p.format(**vars(content)))) == set()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == AuditAction.READ)) == 0


def test_content_about_nobody_writes_nothing(db, world, content, fresh, login):
    login(world.cafe_staff)
    for path in ("/c/{c}/reflections/{plain}", "/c/{c}/search?q=shelter"):
        assert reads_of(db, lambda p=path: fresh.get(p.format(**vars(content)))) == set()


def test_a_search_about_nobody_asks_the_audit_nothing(db, world, content, fresh, login):
    """The search's page statement says which hits are about a citizen, so a page of hits
    about nobody costs no look-up of citizen references; one about a citizen is recorded."""
    login(world.cafe_staff)
    fresh.get(f"/c/{content.c}/search?q=shelter")  # the log-in's first page
    with statements_run(db) as run:
        page = fresh.get(f"/c/{content.c}/search?q=shelter")
    assert page.status_code == 200 and "<mark>" in page.get_data(as_text=True)
    assert not [s for s in run if "JOIN citizens" in s], run
    assert reads_of(db, lambda: fresh.get(f"/c/{content.c}/search?q=hours")) != set()


def test_a_read_after_withdrawal_is_neither_shown_nor_audited(db, world, content, fresh,
                                                              login):
    citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                              partner_id=world.cafe.id)
    db.session.commit()
    login(world.cafe_staff)
    assert reads_of(db, lambda: fresh.get(f"/c/{content.c}/reflections")) == set()
    assert fresh.get(f"/c/{content.c}/reflections/{content.note}").status_code == 404
    assert reads_of(db, lambda: fresh.get(f"/c/{content.c}/export.json")) == set()


def test_an_error_page_after_a_read_writes_nothing(db, world, content, fresh, login):
    """Café staff may read the note but not edit it: the 403 page shows nothing of it."""
    login(world.cafe_staff)
    before = last_event_id(db)
    response = fresh.get(f"/c/{content.c}/reflections/{content.note}/edit")
    assert response.status_code == 403
    assert last_event_id(db) == before


def test_the_page_reads_cost_one_query_per_kind(db, world, content, fresh, login):
    """Noting loads costs nothing per item: more notes about the citizen, same query count."""
    login(world.cafe_staff)

    def queries_for_feed() -> int:
        pagecache.clear()  # built each time, the header's badge counted too
        with statements_run(db) as run:
            assert fresh.get(f"/c/{content.c}/reflections").status_code == 200
        return len(run)

    queries_for_feed()  # warm up (first visit marks)
    few = queries_for_feed()
    worker = actor_for(db.session.get(User, content.case_worker))
    collaboration = db.session.get(Collaboration, content.c)
    for n in range(5):
        reflections.post_reflection(
            worker, collaboration, body=f"Note {n}", citizen=content.citizen,
            categories=[content.preferences], visibility=Visibility.PARTNERS,
            audience=[content.cafe], **NOTE)
    db.session.commit()
    before = last_event_id(db)
    assert queries_for_feed() == few
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.id > before)) == 6


# -- consent changes and erasure --------------------------------------------------------------

def actions_of(db, citizen_id: int) -> list[AuditAction]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.citizen_id == citizen_id).order_by(AuditEvent.id)))


def test_consent_given_changed_withdrawn_and_erasure_are_audited(db, world):
    changed = citizens.give_consent(
        actor_for(world.coordinator), world.citizen, partner_ids=[world.jobcentre.id],
        category_ids=[world.contact.id], purpose="Only the job centre", replaces=world.consent,
        given_by="citizen", method="paper")
    citizens.withdraw_consent(actor_for(world.guardian), changed)
    citizens.erase_citizen(actor_for(world.lone_coordinator), world.citizen)
    db.session.commit()
    assert actions_of(db, world.citizen.id) == [
        AuditAction.CITIZEN_CREATED, AuditAction.CONSENT_GIVEN, AuditAction.CONSENT_CHANGED,
        AuditAction.CONSENT_WITHDRAWN, AuditAction.CITIZEN_ERASED]
    withdrawn = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == AuditAction.CONSENT_WITHDRAWN))
    assert withdrawn.user_id == world.guardian.id and withdrawn.partner_id is None
    assert withdrawn.object_type == "consent"


def test_audit_events_cannot_be_changed_or_removed(db, world, content, fresh, login):
    login(world.cafe_staff)
    reads_of(db, lambda: fresh.get(f"/c/{content.c}/reflections"))
    event_row = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == AuditAction.READ))
    event_row.channel = Channel.API
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEvent, event_row.id))
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    for sql in ("UPDATE audit_events SET user_id = NULL", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(sql))
        db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) > 0
