"""Sign-in through the installation's OpenID Connect providers, with Authlib's client.

Each provider comes from COPROD_OIDC_PROVIDERS (a JSON list; README, "Single sign-on and
two-factor"): its issuer (discovery from <issuer>/.well-known/openid-configuration), client id
and secret, and the email domains it may sign in, each mapped to an organization and saying
whether password log-in stays on for it. Authlib checks state, nonce and PKCE (S256) and the ID
token's signature; here we also hold the discovery document and the token to the configured
issuer and the token to our client id.

An identity is (issuer, subject). On its first sign-in it is linked to the account with the
same address, if the provider says the address is verified (email_verified) and its domain is
one of the provider's; an address without an account gets one (the person then joins
collaborations by invitation, as everyone does). Later sign-ins find the account by the identity
alone, whatever address the provider then sends.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, session
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from coprod.accounts import operations
from coprod.accounts.credentials import UserIdentity
from coprod.accounts.models import User
from coprod.common import OperationError, utcnow
from coprod.extensions import db
from coprod.i18n import select_locale

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
DEFAULT_SCOPE = "openid email profile"
HTTP_TIMEOUT_SECONDS = 10
_NEXT_KEY = "coprod_sso_next"


class ProviderSettingsError(ValueError):
    """COPROD_OIDC_PROVIDERS cannot be used as written; the app refuses to start."""


@dataclass(frozen=True)
class DomainRule:
    """One email domain a provider signs in."""

    domain: str
    organization: int | str | None = None  # an organization's id or exact name
    password_login: bool = True


@dataclass(frozen=True)
class Provider:
    name: str  # in URLs: /login/sso/<name>
    label: str  # on the button: "Sign in with <label>"
    issuer: str
    client_id: str
    client_secret: str
    domains: dict[str, DomainRule]
    scope: str = DEFAULT_SCOPE
    # A sign-in whose ID token carries one of these amr values, or this acr, counts as the
    # second factor (the provider asked for more than a password). Empty: it never does.
    mfa_amr: frozenset[str] = field(default_factory=frozenset)
    mfa_acr: frozenset[str] = field(default_factory=frozenset)

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def rule_for(self, email: str) -> DomainRule | None:
        return self.domains.get(email_domain(email))

    def counts_as_second_factor(self, claims) -> bool:
        amr = claims.get("amr") or []
        amr = [amr] if isinstance(amr, str) else amr
        return bool(self.mfa_amr & {str(v) for v in amr}) or claims.get("acr") in self.mfa_acr


def email_domain(email: str) -> str:
    return operations.normalize_email(email or "").rpartition("@")[2]


# -- settings -------------------------------------------------------------------------------

def _strings(value, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderSettingsError(f"{where}: expected a list of strings")
    return frozenset(value)


def _domain_rules(raw, where: str) -> dict[str, DomainRule]:
    """{"skovby.dk": {"organization": "Skovby Job Centre", "password_login": false}} or a
    plain list of domains (no organization, password log-in on)."""
    if isinstance(raw, list):
        raw = {domain: {} for domain in raw}
    if not isinstance(raw, dict) or not raw:
        raise ProviderSettingsError(f"{where}.domains: name at least one email domain")
    rules = {}
    for domain, options in raw.items():
        domain = str(domain).strip().lower()
        if not domain or "@" in domain or "." not in domain:
            raise ProviderSettingsError(f"{where}.domains: {domain!r} is not a domain")
        options = options or {}
        if not isinstance(options, dict):
            raise ProviderSettingsError(f"{where}.domains.{domain}: expected an object")
        organization = options.get("organization")
        if organization is not None and not isinstance(organization, int | str):
            raise ProviderSettingsError(
                f"{where}.domains.{domain}.organization: an id or a name")
        password_login = options.get("password_login", True)
        if not isinstance(password_login, bool):
            raise ProviderSettingsError(
                f"{where}.domains.{domain}.password_login: true or false")
        rules[domain] = DomainRule(domain, organization, password_login)
    return rules


def _provider(raw, index: int, env) -> Provider:
    where = f"COPROD_OIDC_PROVIDERS[{index}]"
    if not isinstance(raw, dict):
        raise ProviderSettingsError(f"{where}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ProviderSettingsError(f"{where}.name: lowercase letters, digits and '-'")
    secret_variable = f"COPROD_OIDC_{name.upper().replace('-', '_')}_CLIENT_SECRET"
    secret = raw.get("client_secret") or env.get(secret_variable)
    for key, value in (("issuer", raw.get("issuer")), ("client_id", raw.get("client_id")),
                       ("client_secret", secret)):
        if not isinstance(value, str) or not value:
            hint = f" (or set {secret_variable})" if key == "client_secret" else ""
            raise ProviderSettingsError(f"{where}.{key}: required{hint}")
    if not raw["issuer"].startswith(("https://", "http://")):
        raise ProviderSettingsError(f"{where}.issuer: a URL")
    return Provider(
        name=name, label=str(raw.get("label") or name), issuer=raw["issuer"],
        client_id=raw["client_id"], client_secret=secret,
        domains=_domain_rules(raw.get("domains"), where),
        scope=str(raw.get("scope") or DEFAULT_SCOPE),
        mfa_amr=_strings(raw.get("mfa_amr"), f"{where}.mfa_amr"),
        mfa_acr=_strings(raw.get("mfa_acr"), f"{where}.mfa_acr"),
    )


def parse_providers(raw, env=None) -> list[Provider]:
    """The providers of COPROD_OIDC_PROVIDERS (a JSON string, or the list itself)."""
    env = os.environ if env is None else env
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as err:
            raise ProviderSettingsError(f"COPROD_OIDC_PROVIDERS: not JSON ({err})") from None
    if not isinstance(raw, list):
        raise ProviderSettingsError("COPROD_OIDC_PROVIDERS: expected a JSON list")
    providers = [_provider(item, i, env) for i, item in enumerate(raw)]
    seen_names, seen_domains = set(), {}
    for p in providers:
        if p.name in seen_names:
            raise ProviderSettingsError(f"COPROD_OIDC_PROVIDERS: two providers named {p.name}")
        seen_names.add(p.name)
        for domain in p.domains:
            if domain in seen_domains:
                raise ProviderSettingsError(
                    f"COPROD_OIDC_PROVIDERS: {domain} is both {seen_domains[domain]}'s "
                    f"and {p.name}'s")
            seen_domains[domain] = p.name
    return providers


def init_app(app: Flask) -> None:
    app.extensions["coprod_oidc"] = registry(app, app.config.get("COPROD_OIDC_PROVIDERS"))


def registry(app: Flask, raw) -> tuple[list[Provider], OAuth]:
    """The providers of `raw`, each registered with Authlib (discovery happens on first use)."""
    providers = parse_providers(raw)
    oauth = OAuth(app)
    for p in providers:
        oauth.register(
            p.name, client_id=p.client_id, client_secret=p.client_secret,
            server_metadata_url=p.discovery_url,
            client_kwargs={"scope": p.scope, "code_challenge_method": "S256",
                           "default_timeout": HTTP_TIMEOUT_SECONDS},
        )
    return providers, oauth


def providers() -> list[Provider]:
    return current_app.extensions["coprod_oidc"][0]


def provider_named(name: str) -> Provider:
    for p in providers():
        if p.name == name:
            return p
    raise NotFound()


def _client(provider: Provider):
    return current_app.extensions["coprod_oidc"][1].create_client(provider.name)


def form_action_origins() -> list[str]:
    """Where the sign-in buttons' POST ends up after Coprod's redirect: browsers hold that
    redirect to the page's CSP form-action, so each provider's origin is allowed there."""
    origins = set()
    for p in providers():
        urls = [p.issuer, _client(p).server_metadata.get("authorization_endpoint") or ""]
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def provider_for_email(email: str) -> tuple[Provider, DomainRule] | None:
    for p in providers():
        rule = p.rule_for(email)
        if rule is not None:
            return p, rule
    return None


def password_login_refusal(email: str) -> str | None:
    """Why this address may not log in with a password (its domain signs in through its
    provider only), or None. Said for the domain, so it tells nothing about any account."""
    found = provider_for_email(email)
    if found is None or found[1].password_login:
        return None
    provider, rule = found
    return _("Accounts at %(domain)s sign in with %(provider)s: use the button "
             "“Sign in with %(provider)s” below.", domain=rule.domain, provider=provider.label)


# -- the flow ---------------------------------------------------------------------------------

class SignInFailed(Exception):
    """The provider's answer cannot sign anyone in; `message` says why, for the person."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def _metadata(provider: Provider) -> dict:
    """The discovery document, which must name the configured issuer (Discovery 1.0, 4.3)."""
    try:
        metadata = _client(provider).load_server_metadata()
    except (RequestException, ValueError) as err:
        log.warning("OIDC %s: discovery failed: %s", provider.name, err)
        raise SignInFailed(_("%(provider)s cannot be reached right now. Try again in a "
                             "moment.", provider=provider.label), 502) from None
    if metadata.get("issuer") != provider.issuer:
        log.warning("OIDC %s: discovery names issuer %r, configured %r", provider.name,
                    metadata.get("issuer"), provider.issuer)
        raise SignInFailed(_("%(provider)s is not set up correctly. Tell your administrator.",
                             provider=provider.label), 502)
    return metadata


def start(provider: Provider, redirect_uri: str, next_url: str | None):
    """The redirect to the provider; Authlib keeps state, nonce and the PKCE verifier in the
    session until the callback."""
    _metadata(provider)
    session[_NEXT_KEY] = next_url
    return _client(provider).authorize_redirect(redirect_uri)


def finish(provider: Provider) -> tuple[dict, str | None]:
    """The verified ID token's claims of the callback, and where to go afterwards."""
    _metadata(provider)
    next_url = session.pop(_NEXT_KEY, None)
    try:
        token = _client(provider).authorize_access_token(claims_options={
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": provider.client_id},
        })
    except AuthlibBaseError as err:  # state missing or not ours, or the provider said no
        log.info("OIDC %s: refused: %s", provider.name, err)
        raise SignInFailed(_("Signing in with %(provider)s did not complete. Try again.",
                             provider=provider.label)) from None
    except RequestException as err:
        log.warning("OIDC %s: token request failed: %s", provider.name, err)
        raise SignInFailed(_("%(provider)s cannot be reached right now. Try again in a "
                             "moment.", provider=provider.label), 502) from None
    except (JoseError, ValueError) as err:  # signature, issuer, audience, nonce, expiry
        log.warning("OIDC %s: ID token refused: %s", provider.name, err)
        raise SignInFailed(_("The answer of %(provider)s could not be verified. Try again, "
                             "or tell your administrator.", provider=provider.label)) from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        raise SignInFailed(_("The answer of %(provider)s could not be verified. Try again, "
                             "or tell your administrator.", provider=provider.label))
    return dict(claims), next_url


# -- the account ------------------------------------------------------------------------------

def _verified(claims) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _organization_id(rule: DomainRule) -> int | None:
    from coprod.spaces.models import Organization

    if rule.organization is None:
        return None
    column = Organization.id if isinstance(rule.organization, int) else Organization.name
    found = db.session.scalar(select(Organization.id).where(column == rule.organization)
                              .order_by(Organization.id).limit(1))
    if found is None:
        log.warning("OIDC: no organization %r for %s", rule.organization, rule.domain)
    return found


def _new_account(email: str, claims) -> User:
    """An account for a verified address of a provider's domain: no password, named, and
    speaking the language the provider gives if Coprod has it."""
    name = (claims.get("name") or " ".join(
        part for part in (claims.get("given_name"), claims.get("family_name")) if part)
        or email.partition("@")[0]).strip()[:120]
    config = current_app.config
    locale = str(claims.get("locale") or "").replace("-", "_").split("_")[0]
    timezone = str(claims.get("zoneinfo") or "")
    try:
        operations.check_locale_and_timezone(locale, timezone)
    except OperationError:
        locale, timezone = select_locale(), config["BABEL_DEFAULT_TIMEZONE"]
    user = User(email=email, display_name=name, locale=locale, timezone=timezone)
    db.session.add(user)
    db.session.flush()
    return user


def sign_in(provider: Provider, claims: dict) -> User:
    """The account the verified claims sign in: by identity, else linked by verified email
    (creating the account if there is none). Flushes; refuses with OperationError."""
    identity = db.session.scalar(select(UserIdentity).where(
        UserIdentity.issuer == provider.issuer, UserIdentity.subject == str(claims["sub"])))
    if identity is None:
        identity = _link(provider, claims)
    user = identity.user
    if not user.is_active:
        raise OperationError(_("This account is deactivated. Ask a coordinator of your "
                               "collaboration."), status=403)
    identity.last_used_at = utcnow()
    db.session.flush()
    return user


def _link(provider: Provider, claims: dict) -> UserIdentity:
    try:
        email = operations.clean_email(claims.get("email"))
    except OperationError:
        raise OperationError(_("%(provider)s did not send an email address, so Coprod cannot "
                               "find your account.", provider=provider.label),
                             status=403) from None
    if not _verified(claims):
        raise OperationError(_("%(provider)s has not confirmed your email address, so Coprod "
                               "cannot link it to an account.", provider=provider.label),
                             status=403)
    rule = provider.rule_for(email)
    if rule is None:
        raise OperationError(_("%(provider)s signs in addresses at %(domains)s only.",
                               provider=provider.label,
                               domains=", ".join(sorted(provider.domains))), status=403)
    user = operations.find_user_by_email(email) or _new_account(email, claims)
    if db.session.scalar(select(UserIdentity.id).where(
            UserIdentity.user_id == user.id, UserIdentity.issuer == provider.issuer)):
        raise OperationError(_("Your account is already linked to another identity at "
                               "%(provider)s.", provider=provider.label), status=409)
    identity = UserIdentity(user=user, issuer=provider.issuer, subject=str(claims["sub"]),
                            email=email, organization_id=_organization_id(rule))
    db.session.add(identity)
    db.session.flush()
    return identity
