"""Settings: embedded defaults with no environment at all, and what each variable changes."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from coprod import config

ROOT = Path(__file__).resolve().parent.parent
CONFIG_SOURCE = (ROOT / "coprod/config.py").read_text()
SETTINGS = sorted(set(re.findall(r'env\.get\(\s*"([A-Z_]+)"', CONFIG_SOURCE)))


@pytest.fixture
def bare_env(monkeypatch):
    """An environment without a single Coprod setting."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_environment_runs_embedded_in_the_instance_folder(bare_env, tmp_path):
    cfg = config.load(str(tmp_path))

    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/coprod.db"
    assert cfg["CELERY"]["broker_url"] == f"sqla+sqlite:///{tmp_path}/celery-broker.db"
    # Kombu hands these options to create_engine(), which refuses a visibility_timeout.
    assert cfg["CELERY"]["broker_transport_options"] == {}
    assert cfg["SMTP_HOST"] is None
    assert cfg["MAIL_FILE_DIR"] == str(tmp_path / "mail")
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"
    assert cfg["SESSION_COOKIE_SECURE"] is False
    assert cfg["CELERY"]["task_always_eager"] is False


def test_the_embedded_secret_key_is_random_private_and_kept(bare_env, tmp_path):
    first = config.load(str(tmp_path))["SECRET_KEY"]

    assert len(first) >= 40
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert config.load(str(tmp_path))["SECRET_KEY"] == first
    assert config.load(str(tmp_path / "other"))["SECRET_KEY"] != first


@pytest.mark.parametrize("given", [
    "postgres://coprod:pw@db:5432/coprod",
    "postgresql://coprod:pw@db:5432/coprod",
    "postgresql+psycopg://coprod:pw@db:5432/coprod",
])
def test_database_url_is_normalized_to_psycopg_3(bare_env, tmp_path, given):
    bare_env.setenv("DATABASE_URL", given)

    cfg = config.load(str(tmp_path))

    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://coprod:pw@db:5432/coprod"


def test_redis_url_carries_the_broker_and_the_rate_limits(bare_env, tmp_path):
    bare_env.setenv("REDIS_URL", "redis://redis:6379/0")

    cfg = config.load(str(tmp_path))

    assert cfg["CELERY"]["broker_url"] == "redis://redis:6379/0"
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    # Longer than any retry countdown, so Redis never hands a delayed task out twice.
    assert cfg["CELERY"]["broker_transport_options"]["visibility_timeout"] >= 3600


def test_celery_broker_url_wins_over_redis_url(bare_env, tmp_path):
    bare_env.setenv("REDIS_URL", "redis://redis:6379/0")
    bare_env.setenv("CELERY_BROKER_URL", "redis://other:6379/3")

    cfg = config.load(str(tmp_path))

    assert cfg["CELERY"]["broker_url"] == "redis://other:6379/3"
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"


def test_an_https_base_url_makes_cookies_secure(bare_env, tmp_path):
    bare_env.setenv("BASE_URL", "https://coprod.example.org/")

    cfg = config.load(str(tmp_path))

    assert cfg["BASE_URL"] == "https://coprod.example.org"
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["REMEMBER_COOKIE_SECURE"] is True
    assert cfg["PREFERRED_URL_SCHEME"] == "https"


def test_session_cookie_secure_can_be_set_either_way(bare_env, tmp_path):
    bare_env.setenv("BASE_URL", "https://coprod.example.org")
    bare_env.setenv("SESSION_COOKIE_SECURE", "false")
    assert config.load(str(tmp_path))["SESSION_COOKIE_SECURE"] is False

    bare_env.setenv("BASE_URL", "http://127.0.0.1:5000")
    bare_env.setenv("SESSION_COOKIE_SECURE", "1")
    assert config.load(str(tmp_path))["SESSION_COOKIE_SECURE"] is True


def test_smtp_settings_switch_mail_from_files_to_a_server(bare_env, tmp_path):
    bare_env.setenv("SMTP_HOST", "mailpit")
    bare_env.setenv("SMTP_PORT", "1025")
    bare_env.setenv("SMTP_STARTTLS", "yes")
    bare_env.setenv("MAIL_FROM", "Coprod <noreply@example.org>")

    cfg = config.load(str(tmp_path))

    assert (cfg["SMTP_HOST"], cfg["SMTP_PORT"], cfg["SMTP_STARTTLS"]) == ("mailpit", 1025, True)
    assert cfg["MAIL_FROM"] == "Coprod <noreply@example.org>"


def test_test_overrides_of_the_broker_get_matching_transport_options(bare_env, tmp_path):
    bare_env.setenv("REDIS_URL", "redis://redis:6379/0")

    cfg = config.load(str(tmp_path), {"CELERY": {"broker_url": f"sqla+sqlite:///{tmp_path}/b"}})

    assert cfg["CELERY"]["broker_transport_options"] == {}


def test_sqlite_connections_wait_for_each_other_and_use_wal(tmp_path):
    config.install_sqlite_tuning()
    engine = create_engine(f"sqlite:///{tmp_path}/tuned.db")

    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):]

    missing = [name for name in [*SETTINGS, "COPROD_INSTANCE_PATH", "COPROD_DEMO_PASSWORD"]
               if f"`{name}`" not in table]
    assert not missing, f"README.md does not document {missing}"
