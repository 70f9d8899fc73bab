"""Fixtures for every account test: single sign-on (tests/accounts/sso.py) and a user."""

import pytest

from tests.accounts.sso import oidc_provider, provider_server, sso  # noqa: F401
from tests.factories import UserFactory


@pytest.fixture
def user(db):
    """A user with an account, committed."""
    user = UserFactory()
    db.session.commit()
    return user
