"""A small OpenID Connect provider for the tests, built on Authlib's server components and
served on loopback: discovery, authorization (code flow, PKCE S256 required), token endpoint
(client_secret_basic) with RS256-signed ID tokens, and the JWKS.

Who signs in is either typed into its sign-in form (a browser test fills it) or set
beforehand (`provider.identity = {...}`: the authorization request is then answered at
once). `provider.tamper` overrides claims of the next ID tokens, and `provider.discovery_issuer`
what discovery says the issuer is, to see Coprod refuse a provider that misbehaves.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from html import escape

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "coprod-test"
CLIENT_SECRET = "coprod-test-secret"  # noqa: S105


@dataclass
class Client(ClientMixin):
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in {"openid", "email", "profile"})

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri.startswith(("http://127.0.0.1:", "http://localhost/",
                                        "http://localhost:"))

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: dict
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


class RequiredS256(CodeChallenge):
    """PKCE for every client, S256 only: a request without a challenge is refused, so a
    sign-in that completes proves the client sent one and then the matching verifier."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required")
        return super().validate_code_challenge(grant, redirect_uri)


class TestProvider:
    """The provider's state and its Flask app."""

    __test__ = False

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.codes: dict[str, AuthorizationCode] = {}
        self.issuer = ""
        self.identity: dict | None = None
        self.tamper: dict = {}
        self.discovery_issuer: str | None = None
        self.authorization_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.app = self._build_app()

    def reset(self) -> None:
        self.codes.clear()
        self.identity, self.tamper, self.discovery_issuer = None, {}, None
        self.authorization_requests.clear()
        self.token_requests.clear()

    # -- Authlib's server, wired to this object ---------------------------------------------

    def _build_app(self) -> Flask:
        provider = self
        app = Flask("test_oidc_provider")
        app.config["SESSION_COOKIE_NAME"] = "test_provider_session"

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code, req):
                data = req.payload.data
                provider.codes[code] = AuthorizationCode(
                    code=code, client_id=req.client.get_client_id(),
                    redirect_uri=req.payload.redirect_uri, scope=req.payload.scope,
                    nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"), user=req.user)

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, req):
                return any(c.nonce == nonce for c in provider.codes.values())

            def resolve_client_private_key(self, client):
                return provider.key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": provider.key.kid}

            def get_client_claims(self, client):
                return {"iss": provider.issuer, "aud": [client.get_client_id()],
                        "exp": int(time.time()) + 300}

            def generate_user_info(self, user, scope):
                scopes = scope.split()
                claims = {"sub": user["sub"]}
                for name in ("amr", "acr"):
                    if user.get(name):
                        claims[name] = user[name]
                if "email" in scopes:
                    claims.update({k: user[k] for k in ("email", "email_verified") if k in user})
                if "profile" in scopes:
                    claims.update({k: user[k] for k in ("name", "locale") if k in user})
                claims.update(provider.tamper)
                return claims

        server = AuthorizationServer(app, query_client=lambda cid: Client() if cid == CLIENT_ID
                                     else None, save_token=lambda token, req: None)
        server.register_grant(CodeGrant, [IdToken(require_nonce=True), RequiredS256()])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            base = provider.issuer
            return jsonify({
                "issuer": provider.discovery_issuer or provider.issuer,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": ["openid", "email", "profile"],
            })

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([provider.key]).as_dict(private=False))

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            provider.authorization_requests.append(request.args.to_dict())
            if request.method == "GET" and provider.identity is None:
                grant = server.get_consent_grant(end_user=None)  # refuses a bad request
                return _sign_in_form(grant.client.get_client_id())
            user = provider.identity if request.method == "GET" else _typed_identity()
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token():
            provider.token_requests.append(request.form.to_dict())
            return server.create_token_response()

        return app


def _typed_identity() -> dict:
    form = request.form
    return {
        "sub": form["sub"], "email": form["email"],
        "email_verified": form.get("email_verified") == "on",
        "name": form.get("name") or form["email"],
        **({"amr": form["amr"].split()} if form.get("amr") else {}),
    }


def _sign_in_form(client_id: str) -> str:
    """The provider's own page: who is signing in (a test provider asks, a real one checks)."""
    return f"""<!doctype html><html lang="en"><head><title>Test provider</title></head><body>
<h1>Test identity provider</h1><p>Signing in to {escape(client_id)}.</p>
<form method="post">
<label>Subject <input name="sub" required></label>
<label>Email <input name="email" type="email" required></label>
<label>Name <input name="name"></label>
<label><input type="checkbox" name="email_verified" checked> Email verified</label>
<label>Methods (amr) <input name="amr"></label>
<button type="submit">Sign in at the provider</button>
</form></body></html>"""


class Served:
    """The provider on a loopback port, in a thread."""

    def __init__(self, provider: TestProvider):
        self.provider = provider
        self.server = make_server("127.0.0.1", 0, provider.app, threaded=True)
        provider.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TestProvider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
