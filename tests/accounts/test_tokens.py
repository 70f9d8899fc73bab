"""Personal access tokens on the profile: create (secret shown once), list, revoke."""

from __future__ import annotations

import re

from sqlalchemy import select

from coprod.accounts.models import ApiToken
from coprod.common import utcnow
from tests.factories import ApiTokenFactory, UserFactory


def _login_new_user(db, login, **kwargs):
    user = UserFactory(**kwargs)
    db.session.commit()
    assert login(user).status_code == 302
    return user


def test_create_token_shows_the_secret_once(db, client, login):
    user = _login_new_user(db, login)
    response = client.post("/profile/tokens", data={"name": "Monthly report"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token-secret">(cpd_[^<]+)<', response.text).group(1)
    assert "Copy your new token “Monthly report” now. It will not be shown again." in \
        response.text

    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.name == "Monthly report"
    assert token.token_hash == ApiToken.digest(secret)
    assert secret not in (token.token_hash, token.display_prefix)

    again = client.get("/profile")
    assert secret not in again.text
    assert "Monthly report" in again.text
    assert f"{token.display_prefix}…" in again.text

    # The secret works on the API for exactly this user.
    from coprod.accounts.auth import user_for_token

    assert user_for_token(secret).id == user.id


def test_token_needs_a_name(db, client, login):
    user = _login_new_user(db, login)
    response = client.post("/profile/tokens", data={"name": "   "})
    assert response.status_code == 422
    assert 'id="name-error"' in response.text
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None


def test_list_shows_only_my_tokens_with_their_state(db, client, login):
    user = _login_new_user(db, login)
    ApiTokenFactory(user=user, name="Used script", last_used_at=utcnow())
    ApiTokenFactory(user=user, name="Old laptop", revoked_at=utcnow())
    ApiTokenFactory(user=UserFactory(), name="Someone else's token")
    db.session.commit()
    page = client.get("/profile").text
    assert "Used script" in page
    assert "Old laptop" in page
    assert "Revoked" in page
    assert page.count("<td>Never</td>") == 1  # the revoked one was never used
    assert "Someone else's token" not in page
    assert page.count(">Revoke</button>") == 1  # only the active token can be revoked


def test_revoke_my_token(db, client, login):
    user = _login_new_user(db, login)
    token = ApiTokenFactory(user=user, name="CI job")
    db.session.commit()
    response = client.post(f"/profile/tokens/{token.id}/revoke", follow_redirects=True)
    assert response.status_code == 200
    assert "The token “CI job” is revoked." in response.text
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is not None


def test_revoking_another_users_token_answers_404(db, client, login):
    _login_new_user(db, login)
    theirs = ApiTokenFactory(user=UserFactory(), name="Not yours")
    db.session.commit()
    response = client.post(f"/profile/tokens/{theirs.id}/revoke")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, theirs.id).revoked_at is None
    assert client.post("/profile/tokens/999999/revoke").status_code == 404


def test_revoke_is_post_only(db, client, login):
    user = _login_new_user(db, login)
    token = ApiTokenFactory(user=user)
    db.session.commit()
    assert client.get(f"/profile/tokens/{token.id}/revoke").status_code == 405
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None


def test_token_pages_need_login(db, client):
    assert client.post("/profile/tokens", data={"name": "x"}).status_code == 302
    assert db.session.scalar(select(ApiToken)) is None
