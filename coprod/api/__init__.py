"""The JSON API under /api/v1, documented by an OpenAPI document generated from its schemas."""

from flask import Flask

from coprod.extensions import api


def init_api(app: Flask) -> None:
    api.init_app(app)
