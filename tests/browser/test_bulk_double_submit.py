"""Against a live, threaded server (real connections, real transactions): the same previewed
batch of invitations submitted many times at the same moment (a double click on a slow
connection, two tabs) is sent once."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import func, select

from coprod import policy
from coprod.accounts import bulk
from coprod.accounts.models import Invitation, Role
from coprod.extensions import db
from coprod.mail.models import OutboxEmail
from tests.factories import PASSWORD, CollaborationFactory, member

pytestmark = pytest.mark.committed

SUBMITS = 6


def _browser():
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _csrf(opener, url: str) -> str:
    page = opener.open(url).read().decode()
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _post(opener, url: str, data: dict):
    return opener.open(url, data=urllib.parse.urlencode(data).encode())


def test_simultaneous_submits_of_one_batch_send_it_once(app, live_app, live_server):
    collab = CollaborationFactory()
    coordinator = member(collab, Role.COORDINATOR)
    rows = [{"line": n, "email": f"p{n}@example.org", "name": f"P {n}", "partner": "",
             "role": "observer"} for n in range(1, 11)]
    batch = bulk.create_batch(policy.actor_for(coordinator.user), collab, rows, "p.csv")
    db.session.commit()
    preview = f"{live_server}/c/{collab.id}/invitations/bulk/{batch.id}"

    opener = _browser()
    _post(opener, f"{live_server}/login", {"csrf_token": _csrf(opener, f"{live_server}/login"),
                                           "email": coordinator.user.email,
                                           "password": PASSWORD})
    token = _csrf(opener, preview)
    start = threading.Barrier(SUBMITS)
    answers: list[int] = []

    def submit():
        start.wait()
        answers.append(_post(opener, preview + "/send", {"csrf_token": token}).status)

    threads = [threading.Thread(target=submit) for _ in range(SUBMITS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # (The flash messages are not compared: the submits share one cookie jar, whose session
    # cookie each answer rewrites, so which page shows which message is a race of its own.)
    assert answers == [200] * SUBMITS  # each redirected to the batch page, none failed
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 10
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 10
