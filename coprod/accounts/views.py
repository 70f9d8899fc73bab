"""Log in, invitations, password reset, profile and tokens."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)
