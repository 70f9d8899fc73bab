"""Digest emails: who gets one, what it carries (the figures of the recipient's class and
links, never a word of a reflection or anything about a citizen), once per digest and member,
re-checked at send time, with a working unsubscribe link."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select

from coprod.digests import sending
from coprod.digests.models import Digest, DigestPreference, DigestStatus
from coprod.digests.operations import store_preference
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.reflections.models import Reflection
from coprod.spaces.models import Membership
from tests.conftest import text_of
from tests.digests.reading_world import (
    CITIZEN_NOTE,
    SECRET_WORDS,
    build_digest,
    build_reading_world,
    expected_total,
)
from tests.rawmail import assert_one_click_unsubscribe, raw_of


@pytest.fixture
def world(db):
    w = build_reading_world(db)
    for user in (w.cafe_staff, w.shelter_staff):
        store_preference(w.collaboration.id, user.id, True)
    store_preference(w.collaboration.id, w.lone_coordinator.id, False)
    w.digest = build_digest(db, w)
    return w


def _send(db, digest) -> int:
    queued = sending.send(digest)
    db.session.commit()
    return queued


def _digest_mail(outbox, address):
    found = [m for m in outbox.messages() if m["To"] == address
             and "Learning digest" in m["Subject"]]
    assert len(found) == 1, address
    return found[0]


def _figure(text: str, name: str) -> int:
    return int(re.search(rf"{name}:? (\d+)", text).group(1))


def test_coordinators_and_members_who_opted_in_get_one_each(db, outbox, world):
    w = world
    assert _send(db, w.digest) == 3
    keys = set(db.session.scalars(select(OutboxEmail.key).where(
        OutboxEmail.key.startswith("digest:"))))
    assert keys == {f"digest:{w.digest.id}:{u.id}"
                    for u in (w.coordinator, w.cafe_staff, w.shelter_staff)}
    assert f"digest:{w.digest.id}:{w.lone_coordinator.id}" not in keys  # said no
    assert f"digest:{w.digest.id}:{w.case_worker.id}" not in keys  # never asked
    assert _send(db, w.digest) == 0  # sending twice queues nothing twice
    assert db.session.get(Digest, w.digest.id).status == DigestStatus.SENT
    row = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.key == f"digest:{w.digest.id}:{w.shelter_staff.id}"))
    assert row.about == f"digest:{w.digest.id}" and row.recipient_id == w.shelter_staff.id


def test_the_shelters_email_counts_only_what_it_may_read(db, outbox, world):
    w = world
    _send(db, w.digest)
    message = _digest_mail(outbox, w.shelter_staff.email)
    body = text_of(message)
    assert _figure(body, "Reflections") == expected_total(db, w, w.shelter_staff)
    cafe = text_of(_digest_mail(outbox, w.cafe_staff.email))
    assert _figure(cafe, "Reflections") == expected_total(db, w, w.cafe_staff)
    assert _figure(cafe, "Reflections") != _figure(body, "Reflections")
    html = message.get_body(("html",)).get_content()
    for word in SECRET_WORDS:
        assert word not in body.lower() and word not in html.lower()
    assert f"/c/{w.collaboration.id}/digests/{w.digest.id}" in body


def test_no_email_carries_reflection_text_or_anything_about_a_citizen(db, outbox, world):
    w = world
    _send(db, w.digest)
    bodies = db.session.scalars(select(Reflection.body)).all()
    words = {word.lower() for body in bodies for word in re.findall(r"[^\W\d_]{6,}", body)}
    messages = [m for m in outbox.messages() if "Learning digest" in m["Subject"]]
    assert len(messages) == 3
    for message in messages:
        content = (text_of(message) + message.get_body(("html",)).get_content()).lower()
        assert CITIZEN_NOTE.lower() not in content
        for name in ("anna", "citizen a", "greenhouse", w.citizen.pseudonym.lower()):
            assert name not in content
        leaked = {word for word in words if re.search(rf"\b{word}\b", content)}
        assert not leaked, leaked


def test_the_worker_cancels_the_email_of_someone_no_longer_a_member(db, outbox, world):
    w = world
    _send(db, w.digest)
    db.session.execute(delete(Membership).where(Membership.user_id == w.shelter_staff.id))
    db.session.commit()
    outbox.deliver()
    row = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.key == f"digest:{w.digest.id}:{w.shelter_staff.id}"))
    assert row.status == OutboxStatus.CANCELLED
    assert "may no longer read digest:" in row.last_error
    assert not [m for m in outbox.messages() if m["To"] == w.shelter_staff.email]


def test_the_unsubscribe_link_stops_the_digest_emails(app, db, client, outbox, world):
    w = world
    _send(db, w.digest)
    message = _digest_mail(outbox, w.cafe_staff.email)
    link = re.search(r"http://localhost(/digests/unsubscribe/\S+)", text_of(message)).group(1)
    assert message["List-Unsubscribe"] == f"<http://localhost{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert_one_click_unsubscribe(raw_of(app, message), f"http://localhost{link}")
    page = client.get(link)
    assert page.status_code == 200 and "Stop the digest emails" in page.get_data(as_text=True)
    assert db.session.get(DigestPreference, (w.collaboration.id, w.cafe_staff.id)).email
    done = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert "You no longer get the digest emails" in done.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(DigestPreference, (w.collaboration.id, w.cafe_staff.id)).email
    assert w.cafe_staff.id not in {u.id for u, _ in sending.recipients(w.collaboration.id)}
    assert client.get("/digests/unsubscribe/forged-token").status_code == 404


def test_the_digest_unsubscribe_checks_csrf_except_for_the_one_click_post(
        app, db, new_client, world, monkeypatch):
    w = world
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    link = f"/digests/unsubscribe/{sending.unsubscribe_token(w.collaboration.id, w.cafe_staff.id)}"
    provider = new_client()  # no cookies, no CSRF token
    assert provider.post(link, data={"action": "unsubscribe"}).status_code == 400
    assert provider.post(link, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded").status_code == 200
    db.session.expire_all()
    assert not db.session.get(DigestPreference, (w.collaboration.id, w.cafe_staff.id)).email
