"""Flask extension objects, created unbound; create_app() binds them to an app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
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
csrf = CSRFProtect()
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
