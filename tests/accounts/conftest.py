"""The single sign-on fixtures (tests/accounts/sso.py) for every account test."""

from tests.accounts.sso import oidc_provider, provider_server, sso  # noqa: F401
