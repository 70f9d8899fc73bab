"""/api/v1/docs: the API reference, Swagger UI rendering /api/v1/openapi.json.

Swagger UI's files come from the flask-swagger-ui package (its dist/ folder only: its own
blueprint's page starts Swagger UI with an inline script, which Coprod's Content-Security-Policy
forbids). They are served from here, and coprod/static/api-docs.js starts Swagger UI, so the
page loads nothing from another site and needs no exception to the CSP. The page is public,
like the OpenAPI document: it describes the API, and every call made from it ("Try it out")
still needs a token.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, abort, current_app, render_template, send_from_directory

from coprod.api.common import PREFIX

bp = Blueprint("api_reference", __name__, url_prefix=f"{PREFIX}/docs")

SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"
# The files the page uses; nothing else of the package is served.
ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js"}
ONE_DAY = 86_400


@bp.get("")
def reference():
    """The rendered reference of every operation, with a worked example on top."""
    return render_template("api/docs.html", base_url=current_app.config["BASE_URL"].rstrip("/"))


@bp.get("/assets/<name>")
def asset(name: str):
    if name not in ASSETS:
        abort(404)
    return send_from_directory(SWAGGER_UI, name, max_age=ONE_DAY)
