"""Out-of-range input in every form of the site (issue 11, item 12's class on the pages): a
day like 9999-12-31, numbers and ids beyond the database's integer, NUL characters and lone
surrogates. None answers 500 or is stored; a day or a number gets a message next to its
field, text the database cannot store a 400 page that says so. A file (the CSV of bulk
invitations) holds the same: a NUL gets a message next to its field; bytes that are no UTF-8
(a lone surrogate's) and an id beyond the integer as a row's partner, no 500.

Each form is the one a user sees (tests/test_page_writes.py reads them from their pages);
each value is sent in a SAVEPOINT of its own, so that one cannot change the next one's world.
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest

from tests.accounts.sso import oidc_provider, provider_server, sso  # noqa: F401
from tests.conftest import fresh_world
from tests.test_page_writes import CASES, open_form, page_fixtures
from tests.webforms import errors_of

DAYS = ["9999-12-31", "0001-01-01"]
NUMBERS = ["2147483648", "-99999999999999999999"]
ID = "2147483648"
NUL = "nul\x00here"
SURROGATE = "lone \ud800 surrogate"  # sent as its bytes (ED A0 80), which no browser sends


def _sent(browser, form, data: dict):
    if any(isinstance(value, bytes) for values in data.values() for value in values):
        # A form with a file: multipart, the file's bytes as they are.
        files = {name: [(io.BytesIO(v), "people.csv") if isinstance(v, bytes) else v
                        for v in values] for name, values in data.items()}
        response = browser.post(form.action, data=files, content_type="multipart/form-data")
        return response, response.get_data(as_text=True)
    body = urlencode([(name, value.encode("utf-8", "surrogatepass"))
                      for name, values in data.items() for value in values])
    response = browser.post(form.action, data=body,
                            content_type="application/x-www-form-urlencoded")
    return response, response.get_data(as_text=True)


def _csv(*cells: str) -> bytes:
    """A CSV file of one person, as its bytes (a lone surrogate as UTF-8 would write it)."""
    return ("email,name,partner,role\n" + ",".join(cells) + "\n").encode("utf-8",
                                                                        "surrogatepass")


def _problems(case, form, base: dict, browser, db) -> list[str]:
    """Every out-of-range value in each field that takes it: what went wrong, if anything."""
    found = []

    def attempt(name: str, value: str | bytes, *, message_at: str | None):
        with fresh_world(db):
            response, body = _sent(browser, form, {**base, name: [value]})
        where = f"{case} {name}={value!r}: {response.status_code}"
        if response.status_code >= 500:
            found.append(f"{where}: a server error")
        elif message_at == "field":
            errors = errors_of(body)
            if not 400 <= response.status_code < 500:
                found.append(f"{where}: accepted")
            elif not any(key.startswith(f"{name}-error") for key in errors):
                found.append(f"{where}: no message next to the field ({errors})")
        elif message_at == "page" and (response.status_code != 400
                                       or "cannot be stored" not in body):
            found.append(f"{where}: not refused as text that cannot be stored")

    for f in form.fields:
        if f.kind == "date":
            for day in DAYS:
                attempt(f.name, day, message_at="field")
        elif f.kind == "number":
            for number in NUMBERS:
                attempt(f.name, number, message_at="field")
        elif f.kind in ("select", "hidden", "checkbox", "radio") and f.name != "csrf_token" \
                and (f.value.isdigit() or any(o.isdigit() for o in f.options)):
            attempt(f.name, ID, message_at=None)  # an id: refused somehow, never a 500
        elif f.kind in ("text", "textarea", "email", "search"):
            attempt(f.name, NUL, message_at="page")
            attempt(f.name, SURROGATE, message_at=None)
        elif f.kind == "file":
            attempt(f.name, _csv("new@example.org", NUL, "", "observer"), message_at="field")
            attempt(f.name, _csv("new@example.org", SURROGATE, "", "observer"),
                    message_at=None)
            attempt(f.name, _csv("new@example.org", "New", ID, "partner_staff"),
                    message_at=None)
    return found


@pytest.mark.parametrize("case", CASES, ids=str)
def test_out_of_range_input_gets_a_message_never_a_500(app, db, new_client, case,
                                                       monkeypatch, request):
    page_fixtures(request, case)
    browser, form, data, _w = open_form(app, db, new_client, case, monkeypatch)
    problems = _problems(case, form, data, browser, db)
    assert not problems, "\n".join(problems)
