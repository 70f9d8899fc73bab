"""Invitations: coordinators invite by email, follow the status, withdraw pending ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from coprod.accounts.models import Invitation, Role
from coprod.common import utcnow
from tests.conftest import text_of
from tests.factories import InvitationFactory
from tests.spaces.pages import error_of, page, text_of_page


def test_invite_sends_an_email_with_a_link(client, sign_in, space, db, outbox):
    sign_in(space.people.coordinator.user)
    url = f"/c/{space.collab.id}/invitations"
    response = client.post(url, data={
        "email": "Mette@Example.org", "role": "partner_staff", "partner_id": str(space.cafe.id),
        "message": "Welcome aboard!"}, follow_redirects=True)
    assert response.status_code == 200
    assert "We emailed an invitation to mette@example.org." in page(response)
    text = text_of_page(response)
    assert "mette@example.org Partner staff Café Solsikke Cora Coordinator" in text
    assert "Pending" in text
    mail = outbox.last_to("mette@example.org")
    body = text_of(mail)
    assert "Meaningful work" in mail["Subject"]
    assert "http://localhost/invitations/" in body
    assert "Welcome aboard!" in body


def test_partner_staff_need_a_partner(client, sign_in, space, db, outbox):
    sign_in(space.people.coordinator.user)
    form = page(client.get(f"/c/{space.collab.id}/invitations"))
    assert "Required for partner staff" in form
    response = client.post(f"/c/{space.collab.id}/invitations", data={
        "email": "mette@example.org", "role": "partner_staff", "partner_id": ""})
    assert response.status_code == 422
    assert error_of(response, "partner_id") == \
        "Choose the partner organization this person works for."
    assert 'value="mette@example.org"' in page(response)
    assert db.session.scalar(select(Invitation)) is None
    assert outbox.messages() == []


def test_bad_email_and_hand_made_role_are_field_errors(client, sign_in, space, db):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/invitations", data={
        "email": "not an address", "role": "emperor"})
    assert response.status_code == 422
    assert error_of(response, "email") == NOT_AN_ADDRESS
    assert error_of(response, "role")


NOT_AN_ADDRESS = "This is not an email address; write it like name@example.org."


@pytest.mark.parametrize("email", ["a@b\r\nBcc: x@y", "not-an-email", "Ada <ada@example.org>",
                                   "someone@localhost"])
def test_what_is_not_an_email_address_is_refused_next_to_the_field(client, sign_in, space, db,
                                                                   outbox, email):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/invitations", data={
        "email": email, "role": "observer"})
    assert response.status_code == 422
    assert error_of(response, "email") == NOT_AN_ADDRESS
    assert db.session.scalar(select(Invitation)) is None
    assert outbox.messages() == []


def test_inviting_a_member_again_is_refused_next_to_the_email(client, sign_in, space):
    sign_in(space.people.coordinator.user)
    response = client.post(f"/c/{space.collab.id}/invitations", data={
        "email": space.people.citizen.user.email, "role": "citizen"})
    assert response.status_code == 409
    assert error_of(response, "email") == "This person is already a member."


def test_the_list_shows_every_status(client, sign_in, space, db):
    coordinator = space.people.coordinator.user
    InvitationFactory(collaboration=space.collab, email="pending@example.org",
                      invited_by_id=coordinator.id)
    InvitationFactory(collaboration=space.collab, email="accepted@example.org",
                      accepted_at=utcnow())
    InvitationFactory(collaboration=space.collab, email="revoked@example.org",
                      revoked_at=utcnow())
    InvitationFactory(collaboration=space.collab, email="expired@example.org",
                      expires_at=utcnow() - timedelta(days=1))
    InvitationFactory(collaboration=space.elsewhere, email="elsewhere@example.org")
    db.session.commit()
    sign_in(coordinator)
    text = text_of_page(client.get(f"/c/{space.collab.id}/invitations"))
    assert "pending@example.org Observer Cora Coordinator" in text
    for email, status in (("pending", "Pending"), ("accepted", "Accepted"),
                          ("revoked", "Withdrawn"), ("expired", "Expired")):
        row = text.split(f"{email}@example.org", 1)[1]
        assert row.split("@example.org")[0].count(status) == 1, email
    assert "elsewhere@example.org" not in text
    # Only the pending one can be withdrawn.
    assert text.count("Withdraw the invitation") == 1


def test_revoke_a_pending_invitation(client, sign_in, space, db):
    invitation = InvitationFactory(collaboration=space.collab, email="late@example.org",
                                   role=Role.CITIZEN)
    db.session.commit()
    sign_in(space.people.coordinator.user)
    url = f"/c/{space.collab.id}/invitations/{invitation.id}/revoke"
    response = client.post(url, follow_redirects=True)
    assert "The invitation to late@example.org is withdrawn." in page(response)
    assert "late@example.org Citizen" in text_of_page(response)
    assert "Withdrawn" in text_of_page(response)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).revoked_at is not None
    again = client.post(url)
    assert again.status_code == 409
    assert "Only a pending invitation can be withdrawn." in page(again)


def test_only_coordinators_see_invitations(client, sign_in, space, db):
    InvitationFactory(collaboration=space.collab, email="secret@example.org")
    db.session.commit()
    for who in ("staff_a", "citizen", "observer"):
        client.post("/logout")
        sign_in(getattr(space.people, who).user)
        assert client.get(f"/c/{space.collab.id}/invitations").status_code == 403, who
        body = page(client.get(f"/c/{space.collab.id}"))
        assert "/invitations" not in body, who
