"""Flask extension objects, created unbound; create_app() binds them to an app."""

import hmac

from flask import current_app, g, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_wtf.csrf import same_origin
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep migrations stable across PostgreSQL and SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()


class CheckedOnceCSRF(CSRFProtect):
    """Flask-WTF's CSRF protection, each token's signature checked once per worker, and a
    form shown again carrying the token just checked.

    A form's token is the session's CSRF secret signed with the app's secret key, and a
    browser posts the same token with every form of its session. Coprod's tokens do not
    expire (WTF_CSRF_TIME_LIMIT None), so a token whose signature held is remembered with
    the secret it carries; a later post of it passes when that secret is the session's, as
    Flask-WTF decides once the signature holds (checking it again was 2 % of posting a
    reflection), and over HTTPS its referrer is the site's, as Flask-WTF checks it. Anything
    else, every refusal included, is Flask-WTF's own check. A change of secret key forgets
    the remembered tokens; with a time limit every token is checked by Flask-WTF.

    A token just checked is as good as a new one for the same session secret, so the forms a
    request shows carry it (Flask-WTF's generate_csrf() answers the token kept on `g` under
    the field's name) instead of one signed anew: Flask-WTF makes a form's token when the
    form is made, also on a POST that redirects and never shows it, and signing it was a
    twentieth of a post. With a time limit, tokens are signed anew as Flask-WTF does."""

    REMEMBERED_MAX = 4096

    def __init__(self, app=None):
        self._signed: dict[tuple, str] = {}  # (secret key, token) -> the secret it carries
        super().__init__(app)

    def protect(self, apply_exemptions=False):
        config = current_app.config
        lasting = config["WTF_CSRF_TIME_LIMIT"] is None
        token = self._get_csrf_token() if request.method in config["WTF_CSRF_METHODS"] else None
        carried = self._signed.get(self._key(token)) if token and lasting else None
        if carried is None or not self._holds(carried):
            super().protect(apply_exemptions)  # Flask-WTF's own check, refusals included
        elif apply_exemptions and (not request.endpoint or self._is_exempt()):
            return
        else:
            g.csrf_valid = True
        if token and lasting and g.get("csrf_valid"):
            if carried is None:
                self._remember(token)
            g.setdefault(config["WTF_CSRF_FIELD_NAME"], token)

    def _holds(self, carried: str) -> bool:
        """Does a remembered token pass for this request: its secret the session's, and over
        HTTPS (with WTF_CSRF_SSL_STRICT) a referrer of this site's?"""
        config = current_app.config
        field = config["WTF_CSRF_FIELD_NAME"]
        if field not in session or not hmac.compare_digest(session[field], carried):
            return False
        if request.is_secure and config["WTF_CSRF_SSL_STRICT"]:
            return bool(request.referrer) and same_origin(request.referrer,
                                                          f"https://{request.host}/")
        return True

    def _key(self, token: str) -> tuple:
        return current_app.config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, token

    def _remember(self, token: str) -> None:
        """Flask-WTF has just accepted `token`: it carries the session's secret."""
        if len(self._signed) >= self.REMEMBERED_MAX:
            self._signed.clear()
        self._signed[self._key(token)] = session[current_app.config["WTF_CSRF_FIELD_NAME"]]


csrf = CheckedOnceCSRF()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def check_limits_in_their_views(app) -> None:
    """Called once the blueprints are registered: take Flask-Limiter's check off requests
    that no limit covers.

    Coprod's limits sit on a few views (log-in, the second factor, password reset), and a
    view decorated with `limiter.limit` checks its limits itself when it runs. The check
    Flask-Limiter also runs before every request serves default, application, meta and
    blueprint limits, of which Coprod has none, and it cost a page answered from the page
    cache 9 % of its instructions. It stays when any such limit is configured."""
    manager = limiter.limit_manager
    if (manager.default_limits or manager.application_limits
            or app.config.get("RATELIMIT_META")
            or any(manager.blueprint_limits(app, name) for name in app.blueprints)):
        return
    hooks = app.before_request_funcs.get(None, [])
    hooks[:] = [hook for hook in hooks if hook != limiter._check_request_limit]
api = Api()
