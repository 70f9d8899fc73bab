"""Emails about content carry a link only, and the worker asks the policy again at send time.

Sent through a real SMTP server (aiosmtpd) by the worker's own task, run in the test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod.citizens import operations as citizens
from coprod.common import OperationError
from coprod.mail.models import OutboxEmail, OutboxStatus
from coprod.policy import actor_for
from coprod.reflections import operations as reflections
from coprod.reflections.models import Attribution, Visibility
from tests.citizens.conftest import build_world

NOTE = dict(kind="improve", perspective="citizens", component="resources",
            learning_level="inter", mode="exploitation")
BODY = "Anna Jensen (Citizen A) wants a few café hours on Tuesdays"


@pytest.fixture
def world(db):
    return build_world(db)


@pytest.fixture
def inbox(app, smtp_server, monkeypatch):
    """The session app's worker task sends to the real SMTP server of this test."""
    monkeypatch.setitem(app.config, "SMTP_HOST", smtp_server.host)
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "SMTP_STARTTLS", False)
    monkeypatch.setitem(app.config, "SMTP_USERNAME", None)
    return smtp_server


def mention_cafe_staff(db, world, **kw):
    """The case worker's note about the citizen for the café, naming café staff."""
    note = reflections.post_reflection(
        actor_for(world.case_worker), world.collaboration, body=BODY, citizen=world.citizen.id,
        categories=[world.preferences.id], visibility=Visibility.PARTNERS,
        audience=[world.cafe.id], mentions=[world.cafe_staff.id], **{**NOTE, **kw})
    db.session.commit()
    return note


def sent_to(inbox, address: str) -> list:
    return [m for m in inbox.messages if m["To"] == address]


def row_about(db, about: str) -> OutboxEmail:
    db.session.expire_all()
    return db.session.scalar(select(OutboxEmail).where(OutboxEmail.about == about))


def text_and_html(message) -> str:
    return (message.get_body(("plain",)).get_content()
            + message.get_body(("html",)).get_content())


def test_a_mention_email_links_to_the_page_and_says_nothing_of_the_citizen(
        db, world, outbox, inbox):
    note = mention_cafe_staff(db, world)
    address = world.cafe_staff.email
    outbox.deliver()
    (message,) = sent_to(inbox, address)
    assert message["Subject"] == "Case worker mentioned you in Meaningful work"
    content = text_and_html(message)
    assert f"http://localhost/c/{world.collaboration.id}/reflections/{note.id}" in content
    for secret in ("Anna", "Jensen", "Citizen A", "café hours", "Tuesdays", "Likes animals"):
        assert secret not in content and secret not in message["Subject"]
    row = row_about(db, f"reflection:{note.id}")
    assert row.recipient_id == world.cafe_staff.id and row.status == OutboxStatus.SENT


def test_an_organization_signed_note_names_the_organization(db, world, outbox, inbox):
    mention_cafe_staff(db, world, attribution=Attribution.ORGANIZATION)
    outbox.deliver()
    (message,) = sent_to(inbox, world.cafe_staff.email)
    assert message["Subject"] == "Job centre mentioned you in Meaningful work"
    assert "Case worker" not in text_and_html(message)


def test_a_mention_in_a_reply_links_to_the_reply(db, world, outbox, inbox):
    note = mention_cafe_staff(db, world)
    answer = reflections.reply(actor_for(world.cafe_staff), note, "We can do Tuesdays",
                               mentions=[world.case_worker.id])
    db.session.commit()
    outbox.deliver()
    (message,) = sent_to(inbox, world.case_worker.email)
    assert message["Subject"] == "Café staff mentioned you in Meaningful work"
    assert f"/reflections/{note.id}#reply-{answer.id}" in text_and_html(message)
    assert "Tuesdays" not in text_and_html(message)
    assert row_about(db, f"reply:{answer.id}").status == OutboxStatus.SENT


@pytest.mark.parametrize("withdrawn", [False, True])
def test_consent_withdrawn_between_queuing_and_sending_cancels_the_email(
        db, world, outbox, inbox, withdrawn):
    note = mention_cafe_staff(db, world)  # queued, committed: the worker has not run yet
    address = world.cafe_staff.email
    if withdrawn:
        citizens.withdraw_consent(actor_for(world.guardian), world.consent,
                                  partner_id=world.cafe.id)
        db.session.commit()
    outbox.deliver()
    row = row_about(db, f"reflection:{note.id}")
    if withdrawn:
        assert sent_to(inbox, address) == []
        assert row.status == OutboxStatus.CANCELLED and row.sent_at is None
        assert "may no longer read" in row.last_error
    else:
        assert len(sent_to(inbox, address)) == 1
        assert row.status == OutboxStatus.SENT


def test_an_email_about_a_withdrawn_reflection_is_cancelled(db, world, outbox, inbox):
    note = mention_cafe_staff(db, world)
    reflections.withdraw_reflection(actor_for(world.case_worker), note)
    db.session.commit()
    outbox.deliver()
    assert inbox.messages == []
    row = row_about(db, f"reflection:{note.id}")
    assert row.status == OutboxStatus.CANCELLED and "withdrawn" in row.last_error


def test_a_member_who_may_not_read_it_is_neither_named_nor_emailed(db, world, outbox, inbox):
    """The coordinator who speaks for no partner reads the visibility, not the citizen."""
    with pytest.raises(OperationError) as refused:
        reflections.post_reflection(
            actor_for(world.case_worker), world.collaboration, body=BODY,
            citizen=world.citizen.id, categories=[world.preferences.id],
            visibility=Visibility.COORDINATORS, mentions=[world.lone_coordinator.id], **NOTE)
    assert refused.value.field == "mentions"
    db.session.rollback()
    assert outbox.deliver() == 0 and inbox.messages == []


def test_an_email_about_nothing_goes_out_as_before(db, world, outbox, inbox):
    """Invitations and password resets name no content: nothing to re-check."""
    from coprod.accounts.operations import request_password_reset

    request_password_reset(world.cafe_staff.email)
    db.session.commit()
    outbox.deliver()
    assert len(sent_to(inbox, world.cafe_staff.email)) == 1
