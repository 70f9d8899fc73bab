"""Settings, read from the environment, with embedded defaults that need no server at all.

Every setting is documented in README.md ("Configuration"). With nothing set, Coprod runs on a
SQLite file, a SQLite-backed Celery broker and writes outgoing email as .eml files, all in the
instance folder, so `make run` works on a bare machine.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _persistent_secret(instance_path: Path) -> str:
    """A random key kept in the instance folder, so the embedded default has no secret in code."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


# Compiled catalogs, one per language: <lang>/LC_MESSAGES/messages.mo (make translations).
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def catalog_languages(translations_dir: Path = TRANSLATIONS_DIR) -> list[str]:
    """English (the source strings) then every language with a compiled catalog, so the
    language select never offers a language whose pages would stay English."""
    found = sorted(mo.parent.parent.name
                   for mo in translations_dir.glob("*/LC_MESSAGES/messages.mo"))
    return ["en"] + [code for code in found if code != "en"]


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _broker_transport_options(broker_url: str) -> dict:
    """Redis needs a visibility timeout longer than any countdown; Kombu's SQLAlchemy transport
    passes its options to create_engine(), which refuses unknown keywords."""
    if broker_url.startswith("sqla+"):
        return {}
    options = {"visibility_timeout": 6 * 3600}
    if broker_url.startswith(("redis://", "rediss://")):
        # A Redis host that drops packets must not hold a web request (the commit hook
        # publishes) for the operating system's minutes-long connect timeout.
        options["socket_connect_timeout"] = 3
    return options


# Beat wakes at least this often; RedBeat extends its lock on every wake-up.
BEAT_MAX_INTERVAL_SECONDS = 10
# A beat that died holds the RedBeat lock this long at most: then a waiting beat takes over.
BEAT_LOCK_TIMEOUT_SECONDS = 60


def beat_key_prefix(database_url: str) -> str:
    """RedBeat's keys (schedule and lock) for this installation: every beat of one
    installation shares them, another installation on the same Redis has its own. An
    installation is its database (the password left out, so rotating it changes nothing)."""
    try:
        identity = make_url(database_url).set(password=None).render_as_string()
    except Exception:  # an unparsable URL still names one installation
        identity = database_url
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"coprod:{digest}:redbeat"


def _beat_settings(redis_url: str | None, database_url: str, instance: Path) -> dict:
    """Which scheduler beat runs. With Redis: RedBeat, whose lock in Redis lets one beat fire
    the schedule however many run (the others wait for the lock and take over if it dies).
    Embedded: Celery's PersistentScheduler with its file in the instance folder."""
    if not redis_url:
        return {"beat_scheduler": "celery.beat:PersistentScheduler",
                "beat_schedule_filename": str(instance / "celerybeat-schedule")}
    return {
        "beat_scheduler": "coprod.beat:ResilientRedBeatScheduler",
        "beat_max_loop_interval": BEAT_MAX_INTERVAL_SECONDS,
        "redbeat_redis_url": redis_url,
        "redbeat_key_prefix": os.environ.get("REDBEAT_KEY_PREFIX") or beat_key_prefix(
            database_url),
        "redbeat_lock_timeout": BEAT_LOCK_TIMEOUT_SECONDS,
        # Named explicitly: RedBeat would otherwise fall back to the broker's options.
        "redbeat_redis_options": {"socket_connect_timeout": 3},
        "beat_schedule_filename": str(instance / "celerybeat-schedule"),
    }


def _tune_sqlite(dbapi_connection, connection_record) -> None:
    """Web, worker and beat share the embedded SQLite files: let writers wait for each other
    (busy timeout) and readers go on while one writes (WAL) instead of failing "locked"."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def install_sqlite_tuning() -> None:
    """Apply _tune_sqlite to every SQLite connection of this process (app and broker engines)."""
    if not event.contains(Engine, "connect", _tune_sqlite):
        event.listen(Engine, "connect", _tune_sqlite)


def load(instance_path: str, overrides: dict | None = None) -> dict:
    """Build the configuration mapping from the environment (and test overrides)."""
    env = os.environ
    instance = Path(instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    overrides = overrides or {}

    redis_url = overrides.get("REDIS_URL", env.get("REDIS_URL") or None)
    database_url = overrides.get(
        "SQLALCHEMY_DATABASE_URI", env.get("DATABASE_URL") or _sqlite_url(instance / "coprod.db")
    )
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    broker_url = (
        env.get("CELERY_BROKER_URL")
        or redis_url
        or "sqla+" + _sqlite_url(instance / "celery-broker.db")
    )
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    https = urlparse(base_url).scheme == "https"
    smtp_host = env.get("SMTP_HOST") or None

    config = {
        "SECRET_KEY": env.get("SECRET_KEY") or _persistent_secret(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "BASE_URL": base_url,
        # Cookies: never readable from scripts, not sent on cross-site POSTs, Secure over https.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), https),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), https),
        # How long "Keep me logged in" lasts; the server ends any log-in this old, too.
        "REMEMBER_COOKIE_DURATION": timedelta(days=int(env.get("REMEMBER_COOKIE_DAYS", "30"))),
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "TRUST_PROXY_HEADERS": _bool(env.get("TRUST_PROXY_HEADERS")),
        "WTF_CSRF_TIME_LIMIT": None,
        # Pages kept by each worker, answered again while nothing they show changed
        # (coprod/pagecache.py); 0 turns the cache off.
        "PAGE_CACHE_BYTES": int(env.get("PAGE_CACHE_MIB", "64")) * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS_DIR),
        "LANGUAGES": catalog_languages(),
        # Failed log-ins, per client address and per (account, address); per account they
        # only make new browsers stricter, never refuse (coprod/accounts/throttle.py).
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down must not lock everyone out: the limits then hold in each worker's
        # memory, and Redis is asked again from time to time (Flask-Limiter's fallback).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 3, "socket_timeout": 3}
        if redis_url else {},
        "RATELIMIT_LOGIN_PER_ADDRESS": env.get("RATELIMIT_LOGIN_PER_ADDRESS", "30 per 15 minutes"),
        "RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS": env.get(
            "RATELIMIT_LOGIN_PER_ACCOUNT_AND_ADDRESS", "5 per 15 minutes"),
        "RATELIMIT_LOGIN_PER_ACCOUNT": env.get("RATELIMIT_LOGIN_PER_ACCOUNT", "20 per 15 minutes"),
        # Requests for a password reset link, per client address and per submitted email.
        "RATELIMIT_PASSWORD_RESET_PER_ADDRESS": env.get("RATELIMIT_PASSWORD_RESET_PER_ADDRESS",
                                                        "10 per hour"),
        "RATELIMIT_PASSWORD_RESET_PER_ACCOUNT": env.get("RATELIMIT_PASSWORD_RESET_PER_ACCOUNT",
                                                        "5 per hour"),
        "RATELIMIT_HEADERS_ENABLED": False,
        # Single sign-on and two-factor (README; coprod/accounts/oidc.py, twofactor.py).
        "COPROD_OIDC_PROVIDERS": env.get("COPROD_OIDC_PROVIDERS", ""),
        "COPROD_REQUIRE_2FA_FOR_COORDINATORS": _bool(
            env.get("COPROD_REQUIRE_2FA_FOR_COORDINATORS"), True),
        "COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS": _bool(
            env.get("COPROD_REQUIRE_2FA_FOR_CITIZEN_READERS")),
        "INVITATION_MAX_AGE_DAYS": int(env.get("INVITATION_MAX_AGE_DAYS", "14")),
        # A bulk invitation (CSV upload or API call): at most this many rows and bytes.
        "BULK_INVITATION_MAX_ROWS": int(env.get("BULK_INVITATION_MAX_ROWS", "500")),
        "BULK_INVITATION_MAX_BYTES": int(env.get("BULK_INVITATION_MAX_KIB", "256")) * 1024,
        "PASSWORD_RESET_MAX_AGE_MINUTES": int(env.get("PASSWORD_RESET_MAX_AGE_MINUTES", "60")),
        # Celery: JSON only, acknowledge after the work is done, never lose a task to a crash.
        "CELERY": {
            "broker_url": broker_url,
            "result_backend": None,
            "task_ignore_result": True,
            "task_serializer": "json",
            "result_serializer": "json",
            "accept_content": ["json"],
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # Publishing happens in web requests: one quick retry, then the outbox relay
            # takes over (Celery's default waits through three).
            "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0,
                                          "interval_step": 0.5, "interval_max": 0.5},
            "task_always_eager": _bool(env.get("CELERY_ALWAYS_EAGER")),
            "timezone": "UTC",
            **_beat_settings(redis_url, database_url, instance),
        },
        # Mail: SMTP when SMTP_HOST is set, otherwise .eml files in the instance folder.
        "MAIL_FROM": env.get("MAIL_FROM", "Coprod <coprod@localhost>"),
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": int(env.get("SMTP_PORT", "25")),
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _bool(env.get("SMTP_STARTTLS")),
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT", "10")),
        "MAIL_FILE_DIR": env.get("MAIL_FILE_DIR") or str(instance / "mail"),
        "API_TITLE": "Coprod API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_PAGE_SIZE_MAX": 100,
        # No form or JSON body of Coprod comes near this; a larger one answers 413 before
        # it is read (coprod/inputs.py).
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }
    celery_overrides = overrides.pop("CELERY", None)
    config.update(overrides)
    if celery_overrides:
        config["CELERY"].update(celery_overrides)
    config["CELERY"].setdefault(
        "broker_transport_options", _broker_transport_options(config["CELERY"]["broker_url"]))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(
        config["SQLALCHEMY_DATABASE_URI"], config["SQLALCHEMY_ENGINE_OPTIONS"])
    return config


def _engine_options(database_url: str, options: dict) -> dict:
    """PostgreSQL connections run with JIT off: the policy's plans are many small subqueries
    whose estimated cost can pass the JIT threshold at scale, and compiling them took
    seconds where executing took milliseconds (issue 12). Set per connection, not per server,
    so a shared server keeps its own setting for everything else."""
    if not database_url.startswith("postgresql"):
        return options
    connect_args = dict(options.get("connect_args", {}))
    connect_args["options"] = " ".join(filter(None, [connect_args.get("options"), "-c jit=off"]))
    if database_url.startswith("postgresql+psycopg:"):
        from coprod.dbapi import DescribedOnRead

        connect_args.setdefault("cursor_factory", DescribedOnRead)
    # A connection is pinged on checkout only when it may have been ended (coprod/readonly.py),
    # not on every checkout: that ping was one of a small request's four round trips.
    return {**options, "connect_args": connect_args, "pool_pre_ping": False}
