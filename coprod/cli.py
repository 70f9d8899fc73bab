"""The `coprod` command: the app's Flask CLI with Coprod's own commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    pass


def _create_app():
    from coprod import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """Coprod: shared spaces for co-produced public services."""
