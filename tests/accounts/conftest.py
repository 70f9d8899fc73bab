"""Test clients whose requests each start with an empty `g`, as in production.

The shared `_isolate` fixture keeps one app context pushed for the whole test, and Flask reuses
it for every request of the test client, so `g` (Flask-Login's current user, the policy's
cached actor, Flask-Babel's locale) would carry over from one request to the next and between
clients. Account tests switch users and sessions constantly, so they clear it per request.
"""

from __future__ import annotations

import pytest
from flask import g
from flask.testing import FlaskClient


class FreshRequestClient(FlaskClient):
    def open(self, *args, **kwargs):
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


@pytest.fixture
def new_client(app):
    """Make another browser: new_client() -> a client with its own cookies."""

    def _new_client() -> FlaskClient:
        return FreshRequestClient(app, app.response_class, use_cookies=True)

    return _new_client


@pytest.fixture
def client(new_client):
    return new_client()
