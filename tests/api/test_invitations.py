"""Invitations: coordinators invite by email (an email goes out), list and withdraw them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coprod import policy
from coprod.accounts import operations as accounts
from coprod.accounts.models import Invitation, Role
from coprod.common import OperationError
from tests.conftest import text_of
from tests.factories import InvitationFactory


def _url(space, tail=""):
    return f"/api/v1/collaborations/{space.collab.id}/invitations{tail}"


def test_invitation_sends_an_email_and_never_returns_the_link(client, db, space, outbox):
    response = client.post(_url(space), headers=space.as_coordinator, json={
        "email": "Case.Worker@Example.org", "role": "partner_staff",
        "partner_id": space.partner.id, "message": "Welcome aboard"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "case.worker@example.org"
    assert body["role"] == "partner_staff" and body["status"] == "pending"
    assert body["partner"]["id"] == space.partner.id
    assert body["invited_by"]["id"] == space.coordinator.user.id
    invitation = db.session.get(Invitation, body["id"])
    assert "nonce" not in body and "link" not in body and "token" not in body
    assert invitation.nonce not in response.get_data(as_text=True)

    message = outbox.last_to("case.worker@example.org")
    assert "Meaningful work" in message["Subject"]
    assert "/invitations/" in text_of(message)


def test_invitation_input_is_checked(client, db, space):
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"email": "not-an-address", "role": "observer"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["email"]
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"email": "a@example.org", "role": "partner_staff"})
    assert response.status_code == 422 and response.get_json()["field"] == "partner_id"
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"email": space.observer.user.email, "role": "observer"})
    assert response.status_code == 409 and response.get_json()["field"] == "email"
    assert db.session.scalar(select(Invitation)) is None


@pytest.mark.parametrize("email", ["a@b\r\nBcc: x@y", "not-an-email", "Ada <ada@example.org>"])
def test_what_is_not_an_email_address_is_refused(client, db, space, outbox, email):
    response = client.post(_url(space), headers=space.as_coordinator,
                           json={"email": email, "role": "observer"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        "email": ["This is not an email address; write it like name@example.org."]}
    assert db.session.scalar(select(Invitation)) is None
    assert outbox.messages() == []


def test_the_operation_refuses_it_too_for_every_other_path(db, space):
    """The demo, and anything else that invites or creates accounts without a form."""
    actor = policy.actor_for(space.coordinator.user)
    with pytest.raises(OperationError) as refused:
        accounts.invite(actor, space.collab, "a@b\r\nBcc: x@y", Role.OBSERVER)
    assert refused.value.field == "email"
    with pytest.raises(OperationError) as refused:
        accounts.create_user("not-an-email", "Mallory", "a long enough password")
    assert refused.value.field == "email"
    assert accounts.create_user(" Ada@Example.ORG ", "Ada", "a long enough password"
                                ).email == "ada@example.org"


def test_list_and_revoke(client, db, space):
    older = InvitationFactory(collaboration=space.collab, email="first@example.org")
    newer = InvitationFactory(collaboration=space.collab, email="second@example.org")
    db.session.commit()
    body = client.get(_url(space), headers=space.as_coordinator).get_json()
    assert {i["email"] for i in body["items"]} == {"first@example.org", "second@example.org"}
    assert body["total"] == 2

    response = client.post(_url(space, f"/{older.id}/revoke"), headers=space.as_coordinator)
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    again = client.post(_url(space, f"/{older.id}/revoke"), headers=space.as_coordinator)
    assert again.status_code == 409
    one = client.get(_url(space, f"/{newer.id}"), headers=space.as_coordinator).get_json()
    assert one["status"] == "pending"


def test_observer_may_neither_see_nor_send_invitations(client, db, space):
    invitation = InvitationFactory(collaboration=space.collab)
    db.session.commit()
    assert client.get(_url(space), headers=space.as_observer).status_code == 403
    response = client.post(_url(space), headers=space.as_observer,
                           json={"email": "x@example.org", "role": "observer"})
    assert response.status_code == 403
    # an invitation is not readable by an observer at all: it does not exist for them
    assert client.post(_url(space, f"/{invitation.id}/revoke"),
                       headers=space.as_observer).status_code == 404
