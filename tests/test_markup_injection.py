"""Stored and reflected markup never reaches a page as markup.

A translated message that interpolates a value someone typed (a partner's name, an email
address, an option value posted by hand) is shown escaped wherever it lands: select options,
labels, field and form errors, flash messages. Flask-Babel's lazy strings claim to be HTML
(`__html__`), so WTForms and Jinja would trust them with their interpolated values unescaped;
Coprod's own lazy_gettext (coprod.i18n) escapes the values and only the values.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from markupsafe import escape

from tests.citizens.conftest import build_world

TAG = "<b id=x>"
ESCAPED = "&lt;b id=x&gt;"
COPROD = Path(__file__).resolve().parent.parent / "coprod"


def _page(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _assert_escaped(page: str) -> None:
    assert "<b id=x>" not in page and "<b id" not in page
    assert ESCAPED in page


@pytest.fixture
def world(db):
    return build_world(db)


@pytest.fixture
def coordinator(sign_in, client, world):
    sign_in(world.coordinator)
    return client


def _citizen_url(world, rest=""):
    return f"/c/{world.collaboration.id}/citizens/{world.citizen.id}{rest}"


def test_a_partner_name_in_the_withdraw_select_is_escaped(db, world, coordinator):
    world.cafe.organization.name = TAG
    db.session.commit()
    page = _page(coordinator.get(_citizen_url(world)))
    _assert_escaped(page)
    assert f"Only for {ESCAPED}" in page
    # The withdraw form shown again with an error keeps it escaped.
    prefix = f"withdraw-{world.consent.id}"
    response = coordinator.post(_citizen_url(world, f"/consents/{world.consent.id}/withdraw"),
                                data={f"{prefix}-partner": str(world.cafe.id),
                                      f"{prefix}-given_by": "guardian",
                                      f"{prefix}-method": "paper"})
    assert response.status_code == 422
    _assert_escaped(_page(response))


def test_an_unknown_email_in_a_field_error_is_escaped(world, coordinator):
    url = f"/c/{world.collaboration.id}/citizens/new"
    response = coordinator.post(url, data={"pseudonym": "Citizen X", "name": "",
                                           "activities": [world.workplace.id],
                                           "user_email": TAG})
    assert response.status_code == 422
    _assert_escaped(_page(response))
    response = coordinator.post(url, data={"pseudonym": "Citizen X", "name": "",
                                           "activities": [world.workplace.id],
                                           "guardian_emails": "<b>"})
    assert response.status_code == 422
    page = _page(response)
    assert "<b>" not in page and "“&lt;b&gt;”" in page


def test_an_option_value_posted_by_hand_is_escaped_in_its_error(world, coordinator):
    response = coordinator.post(_citizen_url(world, "/consents/new"), data={
        "partners": [world.jobcentre.id], "categories": [world.support.id],
        "purpose": "Support", "starts_on": "2030-01-01", "ends_on": "",
        "given_by": TAG, "given_by_name": "", "method": "in_person"})
    assert response.status_code == 422
    _assert_escaped(_page(response))
    response = coordinator.post(f"/c/{world.collaboration.id}/reflections/new", data={
        "body": "Handovers get lost", "kind": "improve", "perspective": "citizens",
        "component": TAG, "learning_level": "inter", "mode": "exploitation",
        "visibility": "collaboration", "attribution": "name"})
    assert response.status_code == 422
    _assert_escaped(_page(response))


def test_coprods_lazy_strings_escape_the_values_and_only_the_values(app):
    from coprod.i18n import lazy_gettext, lazy_ngettext

    with app.test_request_context():
        message = lazy_gettext("“%(value)s” is not one of the options.", value=TAG)
        assert str(message) == f"“{TAG}” is not one of the options."
        assert escape(message) == f"“{ESCAPED}” is not one of the options."
        assert str(lazy_gettext("100%% sure")) == "100%% sure"  # as gettext: no % applied
        many = lazy_ngettext("%(num)d reply to %(who)s", "%(num)d replies to %(who)s", 2,
                             who=TAG)
        assert str(many) == f"2 replies to {TAG}"
        assert escape(many) == f"2 replies to {ESCAPED}"


def _interpolating_lazy_calls_of_flask_babel(path: Path) -> list[str]:
    """Calls of a lazy gettext imported from flask_babel that pass values to interpolate."""
    tree = ast.parse(path.read_text(), str(path))
    unsafe = {alias.asname or alias.name
              for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              and node.module == "flask_babel"
              for alias in node.names if alias.name.startswith("lazy_")}
    return [f"{path.relative_to(COPROD.parent)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in unsafe and node.keywords]


def test_no_lazy_string_of_flask_babel_interpolates_values():
    """Flask-Babel's LazyString is trusted as HTML whatever it holds: a value interpolated
    into one would reach pages unescaped. Interpolating lazy strings come from coprod.i18n."""
    found = [hit for path in sorted(COPROD.rglob("*.py"))
             for hit in _interpolating_lazy_calls_of_flask_babel(path)]
    assert found == []
