"""Coprod: one shared space per collaboration between partner organizations.

create_app() is the only place an app is built: configuration, extensions, blueprints, error
pages, CLI commands and Celery all hang off it (web, worker, beat and tests alike).
"""

from __future__ import annotations

import os

from flask import Flask


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("COPROD_INSTANCE_PATH") or None,
                instance_relative_config=True)
    from coprod import config

    app.config.update(config.load(app.instance_path, dict(overrides or {})))
    config.install_sqlite_tuning()

    if app.config["TRUST_PROXY_HEADERS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    from coprod import inputs

    inputs.register(app)  # before the routes: their <int:...> ids are bounded
    _init_extensions(app)
    _register_blueprints(app)
    from coprod.extensions import check_limits_in_their_views

    check_limits_in_their_views(app)

    from coprod import errors, web

    errors.register(app)
    web.register(app)

    from coprod.cli import register_commands

    register_commands(app)

    from coprod.celery import celery_init_app

    celery_init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from coprod import models  # noqa: F401  (all tables known to metadata and migrations)
    from coprod.accounts.auth import init_login
    from coprod.extensions import babel, csrf, db, limiter, migrate
    from coprod.i18n import format_instant, install_translations, select_locale, select_timezone
    from coprod.mail.outbox import install_hooks

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "..", "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_translations(app)
    app.jinja_env.filters["instant"] = format_instant  # the one way to show a moment
    init_login(app)
    install_hooks()
    from coprod.citizens import audit

    audit.install(app)
    from coprod import readonly

    readonly.install(app)
    from coprod import pagecache

    pagecache.install(app)


def _register_blueprints(app: Flask) -> None:
    from coprod.accounts.views import bp as accounts_bp
    from coprod.admin.views import bp as admin_bp
    from coprod.api import init_api
    from coprod.citizens.selfservice import bp as my_information_bp
    from coprod.citizens.views import bp as citizens_bp
    from coprod.digests.views import bp as digests_bp
    from coprod.messages.views import bp as messages_bp
    from coprod.notifications.links import bp as notification_links_bp
    from coprod.notifications.views import bp as notifications_bp
    from coprod.reflections.views import bp as reflections_bp
    from coprod.routines.links import bp as routines_bp
    from coprod.routines.views import bp as routine_settings_bp
    from coprod.search.views import bp as search_bp
    from coprod.servicemap.views import bp as servicemap_bp
    from coprod.spaces.bulk_views import bp as bulk_invitations_bp
    from coprod.spaces.views import bp as spaces_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(spaces_bp)
    app.register_blueprint(reflections_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(servicemap_bp)
    app.register_blueprint(my_information_bp)
    app.register_blueprint(citizens_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(notification_links_bp)
    app.register_blueprint(routines_bp)
    app.register_blueprint(routine_settings_bp)
    app.register_blueprint(digests_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(bulk_invitations_bp)
    init_api(app)
    from coprod.accounts import signin

    signin.register(app)  # identity providers, the second factor and its enrolment gate
