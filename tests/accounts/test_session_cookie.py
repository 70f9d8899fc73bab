"""The browser's session cookie (coprod.web.CookieSession): signed as Flask signs it, written
without compression, still read when it was written compressed (before), and still read
after the secret key is rotated into SECRET_KEY_FALLBACKS; its signature checked once per
worker, its contents read anew for each request, and refused once it is too old."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import timedelta

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner

from tests.test_database_down import signed_in_cookie


def _logged_in(client) -> bool:
    return client.get("/profile").status_code == 200


@contextmanager
def _config(app, **values):
    before = {name: app.config.get(name) for name in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(before)


def test_the_cookie_is_signed_and_not_compressed(app, user, client):
    value = signed_in_cookie(client, user)
    assert not value.startswith(".")  # itsdangerous marks a compressed payload with a dot
    assert _logged_in(client)
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.set_cookie("session", tampered)
    assert not _logged_in(client)


def test_a_cookie_written_compressed_before_is_still_read(app, user, client):
    value = signed_in_cookie(client, user)
    stock = SecureCookieSessionInterface().get_signing_serializer(app)
    contents = stock.loads(value)
    compressed = stock.dumps(contents)
    assert compressed.startswith(".")
    client.set_cookie("session", compressed)
    assert _logged_in(client)


def test_a_cookie_signed_with_the_previous_key_is_read_after_rotation(app, user, client):
    value = signed_in_cookie(client, user)
    old_key = app.config["SECRET_KEY"]
    with _config(app, SECRET_KEY="the-next-secret-not-for-production",
                 SECRET_KEY_FALLBACKS=[old_key]):
        client.set_cookie("session", value)
        assert _logged_in(client)
    with _config(app, SECRET_KEY="the-next-secret-not-for-production"):
        client.set_cookie("session", value)
        assert not _logged_in(client)


def test_a_cookie_is_checked_once_and_read_anew_for_each_request(app, user, client,
                                                                  monkeypatch):
    value = signed_in_cookie(client, user)
    assert _logged_in(client)  # checked, and remembered
    checked = []
    unsign = TimestampSigner.unsign
    monkeypatch.setattr(TimestampSigner, "unsign",
                        lambda self, *a, **k: checked.append(1) or unsign(self, *a, **k))
    interface = app.session_interface
    with app.test_request_context("/", headers={"Cookie": f"session={value}"}) as context:
        first = interface.open_session(app, context.request)
        first["_flashes"] = [("info", "only this request's")]
        first.pop("_user_id")
        second = interface.open_session(app, context.request)
    assert checked == []
    assert "_flashes" not in second and second["_user_id"].startswith(f"{user.id}:")
    assert _logged_in(client)


def test_what_one_request_changes_inside_a_remembered_cookie_stays_its_own(app, user):
    """A session holding a list (flashed messages waiting) is decoded anew for each request;
    one holding only texts and numbers is copied: in neither does a change made by one
    request reach the next request with the same cookie."""
    interface = app.session_interface
    serializer = interface.get_signing_serializer(app)
    for contents in ({"_user_id": f"{user.id}:x", "_flashes": [["info", "Posted."]]},
                     {"_user_id": f"{user.id}:x", "_fresh": True, "n": 1}):
        value = serializer.dumps(contents)
        with app.test_request_context("/", headers={"Cookie": f"session={value}"}) as context:
            first = interface.open_session(app, context.request)
            for kept in first.values():
                if isinstance(kept, list):
                    kept.append(["info", "only this request's"])
            first["n"] = 2
            second = interface.open_session(app, context.request)
        assert dict(second) == contents


def test_a_remembered_cookie_is_refused_once_older_than_the_sessions_lifetime(app, user,
                                                                               client):
    signed_in_cookie(client, user)
    with _config(app, PERMANENT_SESSION_LIFETIME=timedelta(seconds=1)):
        assert _logged_in(client)  # remembered
        time.sleep(2.1)
        assert not _logged_in(client)
