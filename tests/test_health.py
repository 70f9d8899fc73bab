"""GET /healthz: what a load balancer and an operator see, fast even when a server is down."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_REDIS_URL, celery_back_to, dispose, make_app

CLOSED_PORT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2"
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def second_app(app, tmp_path):
    """make_second(**overrides) -> another app; its connections are closed afterwards."""
    made = []

    def make_second(**overrides):
        made.append(make_app(tmp_path / f"instance{len(made)}", **overrides))
        return made[-1]

    yield make_second
    for other in made:
        dispose(other)
    celery_back_to(app)


def timed_get(app, path="/healthz"):
    started = time.monotonic()
    response = app.test_client().get(path)
    return response, time.monotonic() - started


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_redis_broker_up_is_ok(second_app):
    response, _ = timed_get(second_app(CELERY={"broker_url": TEST_REDIS_URL}))
    assert response.status_code == 200
    assert response.get_json()["broker"] == "ok"


def test_broker_down_is_reported_quickly_and_is_not_fatal(second_app):
    response, seconds = timed_get(second_app(CELERY={"broker_url": CLOSED_PORT_BROKER}))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "unavailable"}
    assert seconds < 3


def test_database_down_answers_503(second_app):
    response, seconds = timed_get(second_app(SQLALCHEMY_DATABASE_URI=CLOSED_PORT_DATABASE))
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unavailable",
                                   "broker": "ok"}
    assert seconds < 5


def test_everything_down(second_app):
    response, seconds = timed_get(second_app(SQLALCHEMY_DATABASE_URI=CLOSED_PORT_DATABASE,
                                             CELERY={"broker_url": CLOSED_PORT_BROKER}))
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unavailable",
                                   "broker": "unavailable"}
    assert seconds < 6


def test_embedded_default_is_healthy(second_app, tmp_path):
    """SQLite database and SQLite broker: healthy without any server."""
    response, _ = timed_get(second_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'coprod.db'}", REDIS_URL=None,
        RATELIMIT_STORAGE_URI="memory://",
        CELERY={"broker_url": f"sqla+sqlite:///{tmp_path / 'celery-broker.db'}"}))
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}

