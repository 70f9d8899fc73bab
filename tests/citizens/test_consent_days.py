"""A consent's days lie within the calendar Coprod keeps (1900-01-01..2999-12-31): the day
after its last day, or the start of its first in the collaboration's zone, used to fall off
Python's calendar and answer 500 on the consent page (issue 11)."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD


@pytest.mark.parametrize(("field", "day"), [("ends_on", "9999-12-31"),
                                            ("starts_on", "0001-01-01")])
def test_a_consent_day_outside_the_calendar_is_a_field_error(world, client, field, day):
    assert client.post("/login", data={"email": world.coordinator.email,
                                       "password": PASSWORD}).status_code == 302
    data = {"given_by": "citizen", "method": "in_person", "purpose": "Finding work",
            "partners": [str(world.jobcentre.id)], "categories": [str(world.contact.id)],
            "starts_on": "2026-01-01", field: day}
    response = client.post(f"/c/{world.collaboration.id}/citizens/{world.citizen.id}"
                           "/consents/new", data=data)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Use a day from 1900-01-01 to 2999-12-31." in response.get_data(as_text=True)
