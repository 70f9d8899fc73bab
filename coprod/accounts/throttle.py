"""How failed log-ins are throttled, so that guessing is slow and no one can lock anyone out.

Three counts of failed log-ins (wrong credentials only), in the limiter's storage:

- per client address (RATELIMIT_LOGIN_PER_ADDRESS): one address spraying many accounts;
- per (account, address) (RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS): one address guessing one
  account. Beyond either, that address gets 429 for that account (or for all accounts);
- per account (RATELIMIT_LOGIN_PER_ACCOUNT), from everywhere. It never refuses anyone: beyond
  it the account is under attack, and a browser that has never logged in to this account
  (no device cookie naming it) spends its whole per-(account, address) allowance on one
  failure. A right password at the first try still logs in, and the owner's own browsers keep
  their allowance (the device cookies of OWASP's "slow down online guessing attacks").

Every key is the normalized submitted email, whether an account has it or not.
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse

from coprod.accounts.operations import normalize_email
from coprod.extensions import limiter

DEVICE_COOKIE = "coprod_device"
DEVICE_COOKIE_DAYS = 365
DEVICE_ACCOUNTS_MAX = 5  # accounts one browser remembers having logged in to


def submitted_email() -> str:
    return normalize_email(request.form.get("email", ""))


def account_and_address_key() -> str:
    return f"account-address:{submitted_email()}|{get_remote_address()}"


def _account_tag(email: str) -> str:
    """An account in the device cookie: a digest, so the cookie does not carry the address."""
    return hashlib.sha256(email.encode()).hexdigest()[:16]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="coprod.login-device")


def _known_accounts() -> list[str]:
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return []
    try:
        tags = _serializer().loads(cookie, max_age=DEVICE_COOKIE_DAYS * 86400)
    except BadSignature:
        return []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def remember_device(response: Response, email: str) -> None:
    """After a successful log-in: this browser is one of the account's own from now on."""
    tag = _account_tag(normalize_email(email))
    tags = [tag, *(t for t in _known_accounts() if t != tag)][:DEVICE_ACCOUNTS_MAX]
    config = current_app.config
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps(tags),
                        max_age=DEVICE_COOKIE_DAYS * 86400, path="/login", httponly=True,
                        secure=config["SESSION_COOKIE_SECURE"], samesite="Lax")


def _account_limit_args(email: str) -> tuple:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return (*([prefix] if prefix else []), "login-account", email)


def note_failure() -> None:
    """Count a failed log-in against the submitted account (from every address)."""
    limit = parse(current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"])
    limiter.limiter.hit(limit, *_account_limit_args(submitted_email()))


def under_attack(email: str) -> bool:
    limit = parse(current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"])
    return not limiter.limiter.test(limit, *_account_limit_args(email))


def failure_cost() -> int:
    """What a failed log-in spends of the per-(account, address) allowance: 1, or all of it
    from a browser new to an account under attack."""
    email = submitted_email()
    if _account_tag(email) in _known_accounts() or not under_attack(email):
        return 1
    return parse(current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS"]).amount
