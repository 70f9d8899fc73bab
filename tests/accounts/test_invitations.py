"""Accepting an invitation from the emailed link: sign up, or log in and accept; the link
works once, and spent, withdrawn, expired or tampered links answer with a clear page."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from coprod import policy
from coprod.accounts import operations
from coprod.accounts.models import Role, User
from coprod.common import utcnow
from coprod.extensions import db
from coprod.spaces.models import Membership
from tests.conftest import text_of
from tests.factories import PASSWORD, CollaborationFactory, PartnerFactory, UserFactory, member

NEW_PASSWORD = "a long new password"


def _invite(email: str, role=Role.PARTNER_STAFF, with_partner=True, message=None):
    """A coordinator invites `email`; returns (invitation, collaboration, partner)."""
    collaboration = CollaborationFactory(title="Meaningful work", timezone="Europe/Copenhagen")
    partner = PartnerFactory(collaboration=collaboration,
                             organization__name="Animal shelter") if with_partner else None
    coordinator = member(collaboration, Role.COORDINATOR).user
    invitation = operations.invite(policy.actor_for(coordinator), collaboration, email, role,
                                   partner_id=partner.id if partner else None, message=message)
    return invitation, collaboration, partner


def _link_path(outbox, email: str) -> str:
    """The path of the invitation link in the email `email` received."""
    body = text_of(outbox.last_to(email))
    return re.search(r"http://localhost(/invitations/\S+)", body).group(1)


def _membership(user_email: str, collaboration_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).join(User, Membership.user_id == User.id)
        .where(User.email == user_email, Membership.collaboration_id == collaboration_id))


def test_new_person_signs_up_from_the_emailed_link(app, client, outbox):
    invitation, collaboration, _partner = _invite("ida@example.org",
                                                  message="Welcome aboard, Ida!")
    path = _link_path(outbox, "ida@example.org")

    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for expected in ("Meaningful work", "Partner staff", "Animal shelter",
                     "Welcome aboard, Ida!", "Create your account", "ida@example.org"):
        assert expected in html
    assert '<option selected value="Europe/Copenhagen">' in html  # the collaboration's zone
    assert '<label for="password_confirm">' in html

    response = client.post(path, data={
        "display_name": "Ida Jensen", "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD, "locale": "da", "timezone": "Europe/Copenhagen"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/c/{collaboration.id}"

    db.session.expire_all()
    user = operations.find_user_by_email("ida@example.org")
    assert (user.display_name, user.locale, user.timezone) == (
        "Ida Jensen", "da", "Europe/Copenhagen")
    assert user.check_password(NEW_PASSWORD)
    membership = _membership("ida@example.org", collaboration.id)
    assert membership.role == Role.PARTNER_STAFF
    assert membership.partner_id == invitation.partner_id
    assert client.get("/profile").status_code == 200  # logged in as Ida

    spent = client.get(path)
    assert spent.status_code == 410
    # Ida chose Danish when signing up: she is told in Danish.
    assert "Invitationen er allerede brugt." in spent.get_data(as_text=True)
    assert client.post(path, data={"display_name": "Again"}).status_code == 410


def test_sign_up_errors_are_shown_next_to_the_fields(app, client, outbox):
    _invite("ole@example.org")
    path = _link_path(outbox, "ole@example.org")

    short = client.post(path, data={"display_name": "Ole", "password": "short",
                                    "password_confirm": "short", "locale": "en",
                                    "timezone": "UTC"})
    assert short.status_code == 422
    assert re.search(r'id="password-error">Use at least 10 characters', short.text)
    assert 'value="Ole"' in short.text  # what was typed stays

    differ = client.post(path, data={"display_name": "Ole", "password": NEW_PASSWORD,
                                     "password_confirm": NEW_PASSWORD + "x", "locale": "en",
                                     "timezone": "UTC"})
    assert differ.status_code == 422
    assert re.search(r'id="password_confirm-error">The passwords differ', differ.text)

    bad_zone = client.post(path, data={"display_name": "Ole", "password": NEW_PASSWORD,
                                       "password_confirm": NEW_PASSWORD, "locale": "en",
                                       "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert 'id="timezone-error"' in bad_zone.text
    assert operations.find_user_by_email("ole@example.org") is None


def test_existing_account_logs_in_then_accepts(app, client, outbox, login):
    existing = UserFactory(email="karen@example.org")
    _invitation, collaboration, _ = _invite("karen@example.org", role=Role.OBSERVER,
                                            with_partner=False)
    path = _link_path(outbox, "karen@example.org")

    page = client.get(path)
    assert page.status_code == 200
    assert "There is already an account for karen@example.org" in page.text
    assert "Create your account" not in page.text
    login_link = re.search(r'href="(/login\?next=[^"]+)"', page.text).group(1)
    assert client.post(login_link.replace("&amp;", "&"),
                       data={"email": existing.email, "password": PASSWORD}
                       ).headers["Location"] == path

    page = client.get(path)
    assert "Accept and join" in page.text
    assert _membership("karen@example.org", collaboration.id) is None  # GET changes nothing
    response = client.post(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/c/{collaboration.id}"
    assert _membership("karen@example.org", collaboration.id).role == Role.OBSERVER
    assert client.get(path).status_code == 410


def test_logged_in_as_another_account_is_told_whose_invitation_it_is(app, client, outbox,
                                                                      login):
    _invitation, collaboration, _ = _invite("invitee@example.org")
    someone_else = UserFactory(email="someone@example.org")
    db.session.commit()
    login(someone_else)
    path = _link_path(outbox, "invitee@example.org")

    page = client.get(path)
    assert page.status_code == 200
    assert ("This invitation is for invitee@example.org, but you are logged in as "
            "someone@example.org.") in page.text
    refused = client.post(path)
    assert refused.status_code == 403
    assert _membership("someone@example.org", collaboration.id) is None
    assert _membership("invitee@example.org", collaboration.id) is None

    # Logging out from there leads back to the invitation, now showing the sign-up form.
    logout_action = re.search(r'<form method="post" action="(/logout\?next=[^"]+)"',
                              page.text).group(1)
    out = client.post(logout_action.replace("&amp;", "&"))
    assert out.headers["Location"] == path
    assert "Create your account" in client.get(path).text


def test_tampered_link_answers_404(app, client, outbox):
    _invite("t@example.org")
    path = _link_path(outbox, "t@example.org")
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    response = client.get(tampered)
    assert response.status_code == 404
    assert "This invitation link is not valid." in response.text
    assert client.get("/invitations/not-a-token").status_code == 404


def test_expired_invitation_answers_410(app, client, outbox):
    invitation, _collaboration, _ = _invite("late@example.org")
    path = _link_path(outbox, "late@example.org")
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "This invitation has expired. Ask for a new one." in response.text
    post = client.post(path, data={"display_name": "Late", "password": NEW_PASSWORD,
                                   "password_confirm": NEW_PASSWORD, "locale": "en",
                                   "timezone": "UTC"})
    assert post.status_code == 410
    assert operations.find_user_by_email("late@example.org") is None


def test_withdrawn_invitation_answers_410(app, client, outbox):
    invitation, collaboration, _ = _invite("gone@example.org")
    path = _link_path(outbox, "gone@example.org")
    coordinator = db.session.scalar(select(Membership).where(
        Membership.collaboration_id == collaboration.id)).user
    operations.revoke_invitation(policy.actor_for(coordinator), invitation)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "This invitation was withdrawn." in response.text


def test_already_a_member_gets_a_clear_message(app, client, outbox, login):
    invitation, collaboration, _ = _invite("twice@example.org", role=Role.OBSERVER,
                                           with_partner=False)
    user = UserFactory(email="twice@example.org")
    db.session.add(Membership(collaboration_id=collaboration.id, user_id=user.id,
                              role=Role.CITIZEN))
    db.session.commit()
    login(user)
    response = client.post(_link_path(outbox, "twice@example.org"))
    assert response.status_code == 409
    assert "You are already a member of this collaboration." in response.text
