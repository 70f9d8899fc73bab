"""Writes about people: users, invitations, password resets, tokens. Flush, never commit."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from coprod import policy
from coprod.accounts import sessions
from coprod.accounts.models import ApiToken, Invitation, Role, User
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.i18n import lazy_gettext as _l
from coprod.mail import addresses
from coprod.mail.outbox import queue_email
from coprod.policy import Actor

MIN_PASSWORD_LENGTH = 10


def normalize_email(email: str) -> str:
    """The stored form of an address, for lookups (what clean_email gives a valid one)."""
    return addresses.normalize_address(email)


def clean_email(email: str | None, field: str = "email") -> str:
    """A real email address in its stored form; every path that writes one comes here."""
    try:
        return addresses.clean_address(email)
    except addresses.AddressError:
        raise OperationError(str(addresses.NOT_AN_ADDRESS), field=field) from None


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise OperationError(
            _("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), field=field
        )


def check_locale_and_timezone(locale: str, timezone: str) -> None:
    """Only offered languages and real IANA zones: pages and emails are rendered with them."""
    if locale not in current_app.config["LANGUAGES"]:
        raise OperationError(_("Choose one of the offered languages."), field="locale")
    if timezone not in zoneinfo.available_timezones():
        raise OperationError(_("Choose a time zone from the list."), field="timezone")


def create_user(
    email: str, display_name: str, password: str, locale: str = "en", timezone: str = "UTC"
) -> User:
    email = clean_email(email)
    if find_user_by_email(email) is not None:
        raise OperationError(_("An account with this email already exists."), field="email",
                             status=409)
    check_password_strength(password)
    check_locale_and_timezone(locale, timezone)
    user = User(email=email, display_name=display_name.strip(), locale=locale, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def update_profile(user: User, display_name: str, locale: str, timezone: str) -> User:
    if not (display_name or "").strip():
        raise OperationError(_("Enter your name."), field="display_name")
    check_locale_and_timezone(locale, timezone)
    user.display_name = display_name.strip()
    user.locale = locale
    user.timezone = timezone
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """A new password ends every other log-in of the account; this one carries on."""
    if not user.check_password(current):
        raise OperationError(_("This is not your current password."), field="current_password")
    check_password_strength(new, field="new_password")
    user.set_password(new)
    sessions.end_sessions(user, keep=user.current_session)
    db.session.flush()


def end_all_sessions(user: User) -> None:
    """Log the user out on every device, this one included."""
    sessions.end_sessions(user)


# -- signed links ---------------------------------------------------------------------------

def email_link(endpoint: str, **values) -> str:
    """An absolute link for an email, from BASE_URL; works in a request, a CLI command or a task."""
    path = current_app.url_map.bind("coprod.invalid").build(endpoint, values)
    return current_app.config["BASE_URL"] + path


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"coprod.{purpose}")


def invitation_token(invitation: Invitation) -> str:
    return _serializer("invitation").dumps({"i": invitation.id, "n": invitation.nonce})


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a link names; raises OperationError if spent, revoked, expired."""
    max_age = current_app.config["INVITATION_MAX_AGE_DAYS"] * 86400
    try:
        data = _serializer("invitation").loads(token, max_age=max_age)
    except SignatureExpired:
        raise OperationError(_("This invitation has expired. Ask for a new one."),
                             status=410) from None
    except BadSignature:
        raise OperationError(_("This invitation link is not valid."), status=404) from None
    invitation = db.session.get(Invitation, data.get("i"))
    if invitation is None or invitation.nonce != data.get("n"):
        raise OperationError(_("This invitation link is not valid."), status=404)
    status = invitation.status
    if status == "accepted":
        raise OperationError(_("This invitation has already been used."), status=410)
    if status == "revoked":
        raise OperationError(_("This invitation was withdrawn."), status=410)
    if status == "expired":
        raise OperationError(_("This invitation has expired. Ask for a new one."), status=410)
    return invitation


def password_reset_token(user: User) -> str:
    # The nonce changes with the password, so a link works once.
    return _serializer("reset").dumps({"u": user.id, "n": user.session_nonce})


def user_from_reset_token(token: str) -> User:
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE_MINUTES"] * 60
    try:
        data = _serializer("reset").loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        raise OperationError(_("This reset link is not valid any more. Ask for a new one."),
                             status=410) from None
    user = db.session.get(User, data.get("u"))
    if user is None or not user.is_active or user.session_nonce != data.get("n"):
        raise OperationError(_("This reset link is not valid any more. Ask for a new one."),
                             status=410)
    return user


# -- invitations ----------------------------------------------------------------------------

def invite(actor: Actor, collaboration, email: str, role: Role, partner_id: int | None = None,
           message: str | None = None, name: str | None = None) -> Invitation:
    """Invite an address with a role; partner staff always come on behalf of one partner."""
    from coprod.spaces.models import Membership, Partner

    policy.require(actor, "invite", collaboration)
    email = clean_email(email)
    role = Role(role)
    partner = None
    if role == Role.PARTNER_STAFF:
        if partner_id is None:
            raise OperationError(_("Choose the partner organization this person works for."),
                                 field="partner_id")
    if partner_id is not None:
        partner = db.session.get(Partner, partner_id)
        if partner is None or partner.collaboration_id != collaboration.id:
            raise OperationError(_("Choose one of this collaboration's partners."),
                                 field="partner_id")
    already = db.session.scalar(
        select(func.count()).select_from(Membership).join(User, Membership.user_id == User.id)
        .where(Membership.collaboration_id == collaboration.id, User.email == email)
    )
    if already:
        raise OperationError(_("This person is already a member."), field="email", status=409)
    for old in db.session.scalars(select(Invitation).where(
        Invitation.collaboration_id == collaboration.id, Invitation.email == email,
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
    )):
        old.revoked_at = utcnow()  # a new invitation replaces an open one
    invitation = Invitation(
        collaboration_id=collaboration.id, email=email, role=role,
        partner_id=partner.id if partner else None, message=(message or "").strip() or None,
        name=(name or "").strip()[:120] or None,
        invited_by_id=actor.user_id,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_MAX_AGE_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    inviter = db.session.get(User, actor.user_id)
    queue_email(
        key=f"invitation:{invitation.id}", to=email, template="invitation",
        timezone=collaboration.timezone,  # the invitee's own is not known yet
        subject=_l("You are invited to %(title)s on Coprod", title=collaboration.title),
        invitation=invitation, collaboration=collaboration, inviter=inviter,
        link=email_link("accounts.accept_invitation", token=invitation_token(invitation)),
    )
    return invitation


def revoke_invitation(actor: Actor, invitation: Invitation) -> None:
    policy.require(actor, "revoke", invitation)
    if invitation.status != "pending":
        raise OperationError(_("Only a pending invitation can be withdrawn."), status=409)
    invitation.revoked_at = utcnow()
    db.session.flush()


def accept_invitation(invitation: Invitation, user: User):
    """Turn a pending invitation into a membership for `user` and spend it."""
    from coprod.spaces.models import Membership

    if invitation.status != "pending":
        raise OperationError(_("This invitation can no longer be used."), status=410)
    if normalize_email(user.email) != invitation.email:
        raise OperationError(
            _("This invitation is for %(email)s. Log in with that account.",
              email=invitation.email), status=403)
    exists = db.session.scalar(select(Membership).where(
        Membership.collaboration_id == invitation.collaboration_id,
        Membership.user_id == user.id))
    if exists is not None:
        raise OperationError(_("You are already a member of this collaboration."), status=409)
    membership = Membership(collaboration_id=invitation.collaboration_id, user_id=user.id,
                            role=invitation.role, partner_id=invitation.partner_id)
    db.session.add(membership)
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    db.session.flush()
    return membership


def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    token = password_reset_token(user)
    queue_email(
        key=f"reset:{user.id}:{user.session_nonce}:{utcnow():%Y%m%d%H%M}", to=user.email,
        template="password_reset", subject=_l("Reset your Coprod password"), user=user,
        locale=user.locale, timezone=user.timezone,
        link=email_link("accounts.reset_password", token=token),
        minutes=current_app.config["PASSWORD_RESET_MAX_AGE_MINUTES"],
    )


def reset_password(token: str, new_password: str) -> User:
    user = user_from_reset_token(token)
    check_password_strength(new_password)
    user.set_password(new_password)
    sessions.end_sessions(user)  # whoever knew the old password is logged out
    db.session.flush()
    return user


# -- tokens ---------------------------------------------------------------------------------

def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal access token; the secret is shown once and only its hash is kept."""
    name = (name or "").strip()
    if not name:
        raise OperationError(_("Give the token a name."), field="name")
    secret = ApiToken.generate()
    token = ApiToken(user_id=user.id, name=name[:80], token_hash=ApiToken.digest(secret),
                     display_prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    return token, secret


def revoke_token(actor: Actor, token: ApiToken) -> None:
    policy.require(actor, "revoke", token)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    db.session.flush()
