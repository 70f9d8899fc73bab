"""Two-factor authentication: a TOTP authenticator (RFC 6238, pyotp) with one-time recovery
codes, the second step of a log-in, and who must have it before doing anything else.

- A log-in of an account with an authenticator stops after the password (or an identity
  provider that did not vouch for a second factor): the session then holds only a pending
  second step, and /login/code asks for a code or a recovery code. Both steps are throttled
  alike (accounts/signin.py).
- The factor a log-in passed is kept on its server-side log-in row (user_sessions.second_factor,
  accounts/sessions.py: "totp", or "idp" when the identity provider's ID token says it asked
  for more than a password, see oidc.py), so a remember-me log-in keeps it. A log-in waiting
  for its code has no row yet: only this browser's session knows it is pending.
- Coordinators (COPROD_REQUIRE_2FA_FOR_COORDINATORS, on by default) and, when the installation
  says so (COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS), whoever the policy lets read citizens'
  information at work, are sent to the enrolment page before any other page while their log-in
  has passed no second factor.
- API tokens are credentials of their own and are not asked for a second factor.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from base64 import b32encode

import pyotp
import segno
from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import delete, func, or_, select, update

from coprod import policy
from coprod.accounts import sessions
from coprod.accounts.auth import start_session
from coprod.accounts.credentials import RecoveryCode, TotpCredential
from coprod.accounts.models import Role, User
from coprod.common import OperationError, utcnow
from coprod.extensions import db

FACTOR_TOTP = "totp"
FACTOR_IDP = "idp"
STRONG_FACTORS = frozenset({FACTOR_TOTP, FACTOR_IDP})
STEP_SECONDS = 30
# Codes of the step before and after now are accepted too: phones' clocks drift.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
SECOND_STEP_MAX_SECONDS = 10 * 60
PENDING_KEY = "coprod_2fa_pending"
SETUP_KEY = "coprod_2fa_setup"
# Pages a log-in without its required second factor may still open.
OPEN_ENDPOINTS = frozenset({
    "static", "healthz", "accounts.logout", "signin.setup", "signin.confirm_setup",
    "signin.second_step",
})


# -- the authenticator ----------------------------------------------------------------------

def credential_of(user: User) -> TotpCredential | None:
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))


def is_enrolled(user: User) -> bool:
    return db.session.scalar(
        select(TotpCredential.id).where(TotpCredential.user_id == user.id)) is not None


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps expect (RFC 4226 recommends 160)."""
    return pyotp.random_base32(32)


def grouped(secret: str) -> str:
    """The key as a person types it: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Coprod")


def qr_code(uri: str) -> str:
    """The otpauth:// address as a QR code in an SVG data URI (img-src allows data:)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _step_now() -> int:
    return int(time.time()) // STEP_SECONDS


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code this is (now, or one step either side), if it is later than
    `after`: a code is accepted once, and never one older than the last accepted."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now = _step_now()
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normal_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _new_recovery_code() -> str:
    """80 random bits as 16 base32 letters, shown in groups of four."""
    raw = b32encode(secrets.token_bytes(10)).decode().lower()
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id,
                                    code_hash=RecoveryCode.digest(_normal_recovery_code(c)))
                       for c in codes)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def _wrong_code() -> OperationError:
    return OperationError(_("That code is not right. Check that your phone's clock is right "
                            "and try the newest code."), field="code")


# -- operations (flush, never commit) ---------------------------------------------------------

def enrol(user: User, secret: str | None, code: str) -> list[str]:
    """Confirm the authenticator with its first code; returns the recovery codes (shown once).
    Every log-in of the account ends, this one too (the view opens a new one that passed the
    factor): none of them passed it."""
    if is_enrolled(user):
        raise OperationError(_("Two-factor authentication is already on."), status=409)
    step = _matching_step(secret, code, None) if secret else None
    if step is None:
        raise _wrong_code()
    db.session.add(TotpCredential(user_id=user.id, secret=secret, last_used_step=step))
    codes = _replace_recovery_codes(user)
    sessions.end_sessions(user)
    db.session.flush()
    return codes


def verify(user: User, code: str) -> str | None:
    """Spend a code of the user's authenticator, or one of their recovery codes: "totp" or
    "recovery" if it was good, else None. Each is accepted once, even by requests racing."""
    credential = credential_of(user)
    if credential is None:
        return None
    step = _matching_step(credential.secret, code, credential.last_used_step)
    if step is not None:
        spent = db.session.execute(
            update(TotpCredential)
            .where(TotpCredential.id == credential.id,
                   or_(TotpCredential.last_used_step.is_(None),
                       TotpCredential.last_used_step < step))
            .values(last_used_step=step)
            .execution_options(synchronize_session=False))
        db.session.expire(credential)
        return FACTOR_TOTP if spent.rowcount == 1 else None
    normal = _normal_recovery_code(code)
    if not re.fullmatch(r"[a-z2-7]{16}", normal):
        return None
    spent = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
               RecoveryCode.code_hash == RecoveryCode.digest(normal))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False))
    return "recovery" if spent.rowcount == 1 else None


def new_recovery_codes(user: User, code: str) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working), for a current code."""
    if verify(user, code) != FACTOR_TOTP:
        raise _wrong_code()
    codes = _replace_recovery_codes(user)
    db.session.flush()
    return codes


def turn_off(actor, user: User, code: str) -> None:
    """Remove the authenticator and recovery codes, for a current code, unless required."""
    if required_for(actor):
        raise OperationError(_("Your role requires two-factor authentication, so it stays "
                               "on."), status=403)
    if verify(user, code) is None:
        raise _wrong_code()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.session.flush()


# -- who must have it -------------------------------------------------------------------------

def required_for(actor) -> bool:
    """Coordinators, and (if the installation says so) whoever the policy lets read citizens'
    information at work."""
    config = current_app.config
    if config["COPROD_REQUIRE_2FA_FOR_COORDINATORS"] and any(
            seat.role == Role.COORDINATOR for seat in actor.seats().values()):
        return True
    if config["COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS"]:
        from coprod.citizens.models import Citizen

        return policy.may_any(actor, Citizen, "read_at_work")
    return False


def session_factor() -> str | None:
    """The second factor this request's log-in passed, from its row in user_sessions."""
    if not current_user.is_authenticated:
        return None
    row = current_user.current_session
    return row.second_factor if row is not None else None


def gate():
    """Before every page: a log-in that must have passed a second factor and has not is sent
    to enrolment (or, if the account has an authenticator, back to log in)."""
    if (request.endpoint is None or request.endpoint in OPEN_ENDPOINTS
            or request.path.startswith("/api/")):
        return None
    if not current_user.is_authenticated or session_factor() in STRONG_FACTORS:
        return None
    if not required_for(policy.current_actor()):
        return None
    if is_enrolled(current_user):
        if current_user.current_session is not None:  # a log-in from before enrolment
            sessions.end_session(current_user, current_user.current_session.id)
            # The gate answers instead of the view, so no commits_once commits for it; and
            # nothing is read after this commit (the answer is a redirect).
            db.session.commit()
        session.clear()
        logout_user()
        flash(_("Log in again and enter a code from your authenticator app."), "info")
        return redirect(url_for("accounts.login"))
    flash(_("Your role in Coprod requires two-factor authentication. Set it up to go on."),
          "info")
    return redirect(url_for("signin.setup"))


# -- the log-in's second step -----------------------------------------------------------------

def complete_first_factor(user: User, remember: bool, next_url: str, strong: bool = False):
    """After the password (or an identity provider): log in, or ask for the second factor
    first. `strong`: the identity provider vouched for one."""
    if strong:
        start_session(user, remember=remember, second_factor=FACTOR_IDP)
        return redirect(next_url)
    if is_enrolled(user):
        session.clear()
        session[PENDING_KEY] = {"user": user.id, "nonce": user.session_nonce,
                                "remember": bool(remember), "next": next_url,
                                "since": int(time.time())}
        return redirect(url_for("signin.second_step"))
    start_session(user, remember=remember)
    return redirect(next_url)


def pending() -> tuple[User, dict] | None:
    """The account waiting for its second step in this session, if it is still waiting."""
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or time.time() - data.get("since", 0) > SECOND_STEP_MAX_SECONDS:
        return None
    user = db.session.get(User, data.get("user"))
    if user is None or not user.is_active or user.session_nonce != data.get("nonce"):
        return None
    return user, data


def complete_second_step(user: User, data: dict):
    """The code was good: log in for real, remembering the factor."""
    start_session(user, remember=data.get("remember", False), second_factor=FACTOR_TOTP)
    return redirect(data.get("next") or url_for("spaces.dashboard"))
