"""While the database is unreachable every answer is a 503 with Retry-After: JSON in the API,
a page on the web, in the reader's language, never Werkzeug's bare text (the error page itself
must not need the database: not for the locale, the user or the header's links)."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from coprod.accounts.operations import create_token
from tests.conftest import celery_back_to, dispose, make_app
from tests.factories import PASSWORD, UserFactory

CLOSED_PORT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/x?connect_timeout=2"


@pytest.fixture
def down_app(app, tmp_path):
    """An app like the test's whose database does not answer (same secret: same cookies)."""
    other = make_app(tmp_path / "down", SQLALCHEMY_DATABASE_URI=CLOSED_PORT_DATABASE)
    yield other
    dispose(other)
    celery_back_to(app)


@pytest.fixture
def member(db):
    user = UserFactory(locale="da")
    db.session.commit()
    return user


def signed_in_cookie(client, user) -> str:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client.get_cookie("session").value


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0


def test_a_page_answers_503_with_a_page_for_a_signed_in_member(down_app, client, member):
    browser = down_app.test_client()
    browser.set_cookie("session", signed_in_cookie(client, member))
    response = browser.get("/c/1/reflections", headers={"Accept-Language": "da"})
    assert_unavailable(response)
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "<html" in page
    assert 'lang="da"' in page  # the browser's language, the user's could not be read
    assert "503" in page


def test_logging_in_answers_503(down_app):
    response = down_app.test_client().post("/login", data={"email": "a@example.org",
                                                            "password": PASSWORD})
    assert_unavailable(response)
    assert "<html" in response.get_data(as_text=True)


def test_the_api_answers_503_in_json(down_app, db, member):
    _token, secret = create_token(member, "tests")
    db.session.commit()
    response = down_app.test_client().get("/api/v1/me",
                                          headers={"Authorization": f"Bearer {secret}"})
    assert_unavailable(response)
    body = response.get_json()
    assert body["code"] == 503 and body["status"] == "Service Unavailable"
    assert body["message"]


def test_a_write_to_the_api_answers_503_in_json(down_app):
    response = down_app.test_client().post("/api/v1/collaborations", json={"title": "X"},
                                           headers={"Authorization": "Bearer cpd_x"})
    assert_unavailable(response)
    assert response.get_json()["code"] == 503


def test_a_connection_lost_during_a_request_answers_503(db, client, member, monkeypatch):
    """The database drops in the middle of a request (not at connect time)."""
    from coprod.spaces import views

    def dropped(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    cookie = signed_in_cookie(client, member)
    monkeypatch.setattr(views, "render_template", dropped)
    client.set_cookie("session", cookie)
    response = client.get("/")
    assert_unavailable(response)
    assert "<html" in response.get_data(as_text=True)
    assert db.session.execute(text("SELECT 1")).scalar() == 1  # the session was cleaned


def test_an_error_page_that_fails_on_the_database_answers_503(db, client, member, monkeypatch):
    """A 404 page whose header counts notifications, while the database drops: the error
    page's own failure answers 503 with a page, not Werkzeug's bare text."""
    from coprod.notifications import views

    def dropped():
        raise OperationalError("SELECT count(*)", {}, Exception("server closed the connection"))

    client.set_cookie("session", signed_in_cookie(client, member))
    monkeypatch.setattr(views, "unread_notifications", dropped)
    response = client.get("/c/999999/reflections")
    assert_unavailable(response)
    assert "<html" in response.get_data(as_text=True)


@pytest.fixture
def losing_app(app, tmp_path):
    """An app with a route whose connection the server ends in the middle of the request."""
    from coprod.extensions import db
    from tests.test_readonly import _terminate

    other = make_app(tmp_path / "losing")

    def loses_its_connection():
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))
        if request.args.get("lose"):
            _terminate(other, backend)
        db.session.scalar(text("SELECT 1"))
        return str(backend)

    other.add_url_rule("/test-loses-its-connection", view_func=loses_its_connection)
    yield other
    dispose(other)
    celery_back_to(app)


@pytest.mark.committed  # the pool's own connection, ended by the server
def test_a_connection_the_server_ends_during_a_request_answers_503_then_is_replaced(
        losing_app):
    client = losing_app.test_client()
    first = client.get("/test-loses-its-connection")
    assert first.status_code == 200
    assert_unavailable(client.get("/test-loses-its-connection?lose=1"))
    again = client.get("/test-loses-its-connection")
    assert again.status_code == 200 and again.get_data(as_text=True) != first.get_data(
        as_text=True)
