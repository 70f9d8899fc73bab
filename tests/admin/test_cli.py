"""`coprod users admin|deactivate|reactivate`: the installation's operator at the command line."""

from __future__ import annotations

import pytest

from coprod.accounts.models import User
from coprod.accounts.operations import create_token
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def _fresh(db, user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_users_admin_and_its_reverse(cli, db, client):
    user = UserFactory(email="it@example.org")
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert client.get("/admin/accounts").status_code == 404

    result = cli("users", "admin", "IT@example.org")
    assert result.exit_code == 0, result.output
    assert "it@example.org is an administrator" in result.output
    assert _fresh(db, user).is_admin
    assert client.get("/admin/accounts").status_code == 200

    result = cli("users", "admin", "it@example.org", "--remove")
    assert result.exit_code == 0, result.output
    assert "it@example.org is no longer an administrator." in result.output
    assert not _fresh(db, user).is_admin
    assert client.get("/admin/accounts").status_code == 404


def test_users_admin_of_an_unknown_email_fails(cli, db):
    result = cli("users", "admin", "nobody@example.org")
    assert result.exit_code == 1
    assert "No user has the email nobody@example.org." in result.output


def test_users_create_admin(cli, db):
    result = cli("users", "create", "--email", "first@example.org", "--name", "First",
                 "--password", "a long enough password", "--admin")
    assert result.exit_code == 0, result.output
    assert "Created user first@example.org (First, administrator)." in result.output
    from coprod.accounts.operations import find_user_by_email

    assert find_user_by_email("first@example.org").is_admin


def test_users_deactivate_and_reactivate(cli, db, client):
    user = UserFactory(email="leaver@example.org")
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    _token, secret = create_token(user, "script")
    db.session.commit()

    result = cli("users", "deactivate", "leaver@example.org")
    assert result.exit_code == 0, result.output
    assert client.get("/profile").status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}
                      ).status_code == 401
    assert not _fresh(db, user).is_active

    result = cli("users", "reactivate", "leaver@example.org")
    assert result.exit_code == 0, result.output
    assert client.post("/login", data={"email": user.email,
                                       "password": PASSWORD}).status_code == 302
