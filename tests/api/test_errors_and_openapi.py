"""Errors answer JSON on every /api/ path; the OpenAPI document describes every route."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from coprod.spaces.models import Collaboration
from tests.factories import UserFactory


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/collaborations/abc",
                                  "/api/v2/me"])
def test_unknown_api_path_is_json_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json
    body = response.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found" and body["message"]


def test_wrong_method_is_json_405(client, db, bearer):
    response = client.delete("/api/v1/me", headers=bearer(UserFactory()))
    assert response.status_code == 405
    assert response.get_json()["status"] == "Method Not Allowed"


def test_unexpected_error_is_json_500_without_a_trace(client, db, bearer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("coprod.spaces.operations.create_collaboration", broken)
    response = client.post("/api/v1/collaborations", headers=bearer(UserFactory()), json={
        "title": "T", "purpose": "efficiency", "remit_kind": "sector", "remit": "Health"})
    assert response.status_code == 500
    assert response.get_json()["code"] == 500
    text = response.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert db.session.scalar(select(Collaboration)) is None


def test_web_pages_keep_their_html_errors(client, db):
    """flask-smorest's own handler must not turn the site's error pages into JSON."""
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def _spec(client):
    response = client.get("/api/v1/openapi.json")  # public: no token needed to read the docs
    assert response.status_code == 200
    return response.get_json()


def _served_operations(app) -> set[tuple[str, str]]:
    served = set()
    for rule in app.url_map.iter_rules():
        # the document itself and its rendered reference (/api/v1/docs) are not operations
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api-docs.openapi_json" \
                and not rule.endpoint.startswith("api_reference."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return served


def test_openapi_document_lists_every_route_with_bearer_auth(app, client, db):
    spec = _spec(client)
    assert spec["openapi"].startswith("3.")
    documented = {(method, path) for path, item in spec["paths"].items()
                  for method in item if method != "parameters"}
    served = _served_operations(app)
    assert documented == served
    assert {p for _, p in served} >= {
        "/api/v1/me", "/api/v1/collaborations", "/api/v1/organizations", "/api/v1/tokens",
        "/api/v1/tokens/{token_id}",
        "/api/v1/collaborations/{collaboration_id}/charter/history",
        "/api/v1/collaborations/{collaboration_id}/invitations/{invitation_id}/revoke",
    }
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "cpd_ personal access token",
        "description": "A personal access token: Authorization: Bearer cpd_..."}
    assert spec["security"] == [{"bearerAuth": []}]
    for method, path in documented:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], (method, path)
        assert "401" in operation["responses"], (method, path)


def test_openapi_documents_schemas_pagination_and_errors(client, db):
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    create = schemas["CollaborationCreate"]
    assert set(create["required"]) == {"title", "purpose", "remit_kind", "remit"}
    assert create["properties"]["purpose"]["enum"] == ["efficiency", "repackaging", "new_service"]
    assert create["additionalProperties"] is False

    listing = spec["paths"]["/api/v1/collaborations"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "page_size", "status"}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page_schema = schemas[page.rsplit("/", 1)[-1]]
    assert set(page_schema["properties"]) == {"items", "page", "page_size", "total",
                                              "total_pages"}
    assert "Pagination" in spec["info"]["description"]
    error = spec["components"]["responses"]["UNAUTHORIZED"]["content"]["application/json"]
    assert set(schemas[error["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]) == {
        "code", "status", "message", "field", "errors", "lacking_partner_ids"}


def test_a_422_always_has_a_message(client, db, bearer):
    response = client.post("/api/v1/tokens", json={"nom": "x"}, headers=bearer(UserFactory()))
    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "Some fields are not valid: name, nom."
    assert body["errors"]["json"] == {"nom": ["Unknown field."],
                                      "name": ["Missing data for required field."]}
