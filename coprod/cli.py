"""The `coprod` command: the app's Flask CLI with Coprod's own commands.

    coprod db upgrade                      migrate the database (Flask-Migrate)
    coprod demo                            seed the worked example of docs/domain.md, print log-ins
    coprod users create --email --name     create an account (asks for the password)
    coprod users admin EMAIL [--remove]    make (or unmake) an installation administrator
    coprod users deactivate|reactivate EMAIL
                                           end an account's access at once, or give it back
    coprod tokens create EMAIL             create a personal access token for the API
    coprod routines run-due                one sweep of the routines now (prompts, nudges)
    coprod outbox status                   emails per status, the oldest waiting, last errors
    coprod outbox retry [--id N]           failed emails back in the queue
    coprod digests build --collaboration ID --period YYYY-MM-DD [--rebuild]
                                           build (or rebuild) the digest of one period
    coprod digests backfill [--collaboration ID]
                                           build every closed period's missing digest
    coprod run                             web, Celery worker and Celery beat together

Commands that write call the operations modules and commit once, like a view does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zoneinfo
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, routes_command, shell_command, with_appcontext

from coprod.common import OperationError

# How long `coprod run` gives its children to stop after SIGTERM before killing them.
STOP_TIMEOUT_SECONDS = 10.0
# Where celery_worker.py lives: the workers' entry point is not part of the installed package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def register_commands(app: Flask) -> None:
    """Called by create_app(): Coprod's commands live on app.cli, next to Flask-Migrate's db."""
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(demo_command)
    app.cli.add_command(routines)
    app.cli.add_command(outbox)
    app.cli.add_command(digests)
    app.cli.add_command(run_command)


def _create_app():
    from coprod import create_app

    return create_app()


# load_dotenv=False: docker compose reads .env for the containers; a local `coprod` must not
# pick up those container host names by accident. Settings come from the environment only.
@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             load_dotenv=False)
def main() -> None:
    """Coprod: shared spaces for co-produced public services."""


# Flask's own `run` is replaced by Coprod's (web + worker + beat); shell and routes stay.
main.add_command(shell_command)
main.add_command(routes_command)


def _shown(text: str) -> str:
    """Text typed or stored by someone else, on one line: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text or "")


def _fail(err: OperationError, what: str) -> click.ClickException:
    """Roll back and turn an operation's refusal into a clear message and exit status 1."""
    from coprod.extensions import db

    db.session.rollback()
    where = f" ({err.field})" if err.field else ""
    return click.ClickException(f"{what}{where}: {err.message}")


# -- users ----------------------------------------------------------------------------------

users = AppGroup("users", help="Manage user accounts.")


def _check_locale(ctx, param, value: str) -> str:
    languages = current_app.config["LANGUAGES"]
    if value not in languages:
        raise click.BadParameter(f"choose one of {', '.join(languages)}")
    return value


def _check_timezone(ctx, param, value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {value!r} (e.g. Europe/Copenhagen)") from None
    return value


@users.command("create")
@click.option("--email", required=True, help="The log-in email address.")
@click.option("--name", "display_name", required=True, help="The name other members see.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for (hidden) when not given.")
@click.option("--locale", default="en", show_default=True, callback=_check_locale)
@click.option("--timezone", default="UTC", show_default=True, callback=_check_timezone)
@click.option("--admin", "is_admin", is_flag=True,
              help="Make the account an installation administrator.")
def create_user_command(email: str, display_name: str, password: str, locale: str,
                        timezone: str, is_admin: bool) -> None:
    """Create a user account outside the invitation flow (first coordinator, admins)."""
    from coprod.accounts import operations
    from coprod.admin.operations import set_administrator
    from coprod.extensions import db

    try:
        user = operations.create_user(email, display_name, password, locale=locale,
                                      timezone=timezone)
    except OperationError as err:
        raise _fail(err, f"Cannot create the user {_shown(email)}") from None
    if is_admin:
        set_administrator(user, True)
    db.session.commit()
    role = ", administrator" if is_admin else ""
    click.echo(f"Created user {user.email} ({user.display_name}{role}).")


def _user_or_fail(email: str):
    from coprod.accounts import operations

    user = operations.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user has the email {_shown(email)}.")
    return user


@users.command("admin")
@click.argument("email")
@click.option("--remove", is_flag=True, help="Take the administrator role away instead.")
def admin_command(email: str, remove: bool) -> None:
    """Make EMAIL an installation administrator (the admin area, /admin), or --remove it."""
    from coprod.admin import operations
    from coprod.extensions import db

    user = _user_or_fail(email)
    operations.set_administrator(user, not remove)
    db.session.commit()
    if remove:
        click.echo(f"{user.email} is no longer an administrator.")
    else:
        click.echo(f"{user.email} is an administrator: the admin area is at "
                   f"{current_app.config['BASE_URL']}/admin")


@users.command("deactivate")
@click.argument("email")
def deactivate_command(email: str) -> None:
    """Deactivate EMAIL: logged out everywhere and API tokens revoked, now."""
    from coprod.admin import operations
    from coprod.extensions import db

    user = _user_or_fail(email)
    operations.deactivate(_cli_administrator(), user)
    db.session.commit()
    click.echo(f"{user.email} is deactivated: logged out everywhere, API tokens revoked.")


@users.command("reactivate")
@click.argument("email")
def reactivate_command(email: str) -> None:
    """Let EMAIL log in again (its old API tokens stay revoked)."""
    from coprod.admin import operations
    from coprod.extensions import db

    user = _user_or_fail(email)
    operations.reactivate(_cli_administrator(), user)
    db.session.commit()
    click.echo(f"{user.email} may log in again.")


def _cli_administrator():
    """Whoever runs the server administers it: an actor that is no user and an administrator."""
    from coprod.policy import Actor

    actor = Actor(user_id=None, is_system=True)
    actor.memo["is_administrator"] = True
    return actor


# -- tokens ---------------------------------------------------------------------------------

tokens = AppGroup("tokens", help="Manage personal access tokens for the API.")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="command line", show_default=True,
              help="What the token is for; shown in the profile.")
def create_token_command(email: str, name: str) -> None:
    """Create an API token for EMAIL and print its secret, once, on standard output."""
    from coprod.accounts import operations
    from coprod.extensions import db

    user = operations.find_user_by_email(email)
    if user is None or not user.is_active:
        raise click.ClickException(f"No active user has the email {email}.")
    try:
        _token, secret = operations.create_token(user, name)
    except OperationError as err:
        raise _fail(err, "Cannot create the token") from None
    db.session.commit()
    click.echo(f"Token {name!r} created for {user.email}. Copy it now; it is not shown again.",
               err=True)
    click.echo(secret)


# -- demo -----------------------------------------------------------------------------------

@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the worked example of docs/domain.md ("Meaningful work"); again: no change."""
    from coprod import demo
    from coprod.extensions import db

    password = demo.demo_password()
    try:
        result = demo.seed(password)
    except OperationError as err:
        raise _fail(err, "Cannot seed the demo") from None
    db.session.commit()
    if result.created:
        click.echo(f'Seeded the demo collaboration "{result.title}": '
                   f"{result.partner_count} partners, {len(result.logins)} members, "
                   f"charter version {result.charter_version}.")
    else:
        click.echo(f'The demo collaboration "{result.title}" is already there; nothing changed.')
    _print_logins(result, password)


def _print_logins(result, password: str) -> None:
    base_url = current_app.config["BASE_URL"]
    click.echo(f"\nLog in at {base_url}/login with one of these demo accounts.")
    if result.password_matches:
        click.echo(f"Every demo account has the password: {password}\n")
    else:
        click.echo("Every demo account has the password the demo was first seeded with "
                   "(COPROD_DEMO_PASSWORD differs now).\n")
    width = max(len(login.email) for login in result.logins)
    for login in result.logins:
        click.echo(f"  {login.email:<{width}}  {login.name}, {login.role}")


# -- routines -------------------------------------------------------------------------------

routines = AppGroup("routines", help="Knowledge-sharing routines.")


@routines.command("run-due")
def run_due_command() -> None:
    """Run one sweep now, as beat does every minute: due prompts and nudges, emailed once."""
    from coprod.routines.tasks import sweep_now

    result = sweep_now()
    click.echo(f"Swept {result.routines} routines: {result.prompts} prompts, "
               f"{result.nudges} nudges, {len(result.errors)} errors.")
    for error in result.errors:
        click.echo(f"  {error}", err=True)
    if result.errors:
        sys.exit(1)


# -- outbox ---------------------------------------------------------------------------------

outbox = AppGroup("outbox", help="The outgoing email queue.")


def _age(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@outbox.command("status")
def outbox_status_command() -> None:
    """How many emails are pending, sent, failed and cancelled; what went wrong last."""
    from coprod.mail import maintenance

    report = maintenance.report()
    for status, count in report.counts.items():
        click.echo(f"{status.value:<10} {count:>8}")
    if report.oldest_pending is not None:
        click.echo(f"The oldest pending email has waited {_age(report.oldest_pending)}.")
    if report.last_errors:
        click.echo("Last errors:")
    for outbox_id, status, to_address, error in report.last_errors:
        first_line = error.splitlines()[0] if error else ""
        # An address stored before addresses were checked may hold a line break: shown
        # escaped, it cannot print a line of its own.
        click.echo(f"  #{outbox_id} {status.value} to {_shown(to_address)}: {first_line}")


@outbox.command("retry")
@click.option("--id", "ids", type=int, multiple=True,
              help="Only this email (repeatable); all failed emails when not given.")
def outbox_retry_command(ids: tuple[int, ...]) -> None:
    """Put failed emails back as pending with fresh attempts, and hand them to the worker."""
    from coprod.extensions import db
    from coprod.mail import maintenance
    from coprod.mail.outbox import enqueue_send

    retried = maintenance.retry_failed(ids)
    db.session.commit()
    missing = sorted(set(ids) - set(retried))
    if missing:
        click.echo(f"Not failed (or no such email), left alone: "
                   f"{', '.join(f'#{i}' for i in missing)}.", err=True)
    published = enqueue_send(retried)
    click.echo(f"{len(retried)} failed emails back in the queue; {published} handed to the "
               f"worker now" + (", the relay sends the rest within minutes." if
                                published < len(retried) else "."))


# -- digests --------------------------------------------------------------------------------

digests = AppGroup("digests", help="Learning digests of the collaborations' periods.")


def _collaboration(collaboration_id: int):
    from coprod.extensions import db
    from coprod.spaces.models import Collaboration

    collaboration = db.session.get(Collaboration, collaboration_id)
    if collaboration is None:
        raise click.ClickException(f"No collaboration has the id {collaboration_id}.")
    return collaboration


def _period_name(collaboration, period) -> str:
    from coprod.routines import schedule

    tz = schedule.zone(collaboration.timezone)
    last = period.end.astimezone(tz) - timedelta(days=1)
    return f"{period.start.astimezone(tz):%Y-%m-%d} to {last:%Y-%m-%d}"


@digests.command("build")
@click.option("--collaboration", "collaboration_id", type=int, required=True)
@click.option("--period", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="A local date inside the period, e.g. 2026-11-01.")
@click.option("--rebuild", is_flag=True, help="Build again even if the digest exists.")
def build_digest_command(collaboration_id: int, day, rebuild: bool) -> None:
    """Build the digest of the period that contains a day; it is not sent (a coordinator
    sends it from its page)."""
    from coprod.common import utcnow
    from coprod.digests import periods
    from coprod.digests.tasks import build_one

    collaboration = _collaboration(collaboration_id)
    period = periods.period_of_day(collaboration, day.date())
    if period is None:
        raise click.ClickException(f"No digest period contains {day:%Y-%m-%d}.")
    name = _period_name(collaboration, period)
    if period.end > utcnow():
        raise click.ClickException(f"The period {name} has not closed yet.")
    digest = build_one(collaboration.id, period.start, rebuild=rebuild)
    if digest is None:
        raise click.ClickException(f"Another build of {name} was running; try again.")
    click.echo(f"Digest #{digest.id} of {collaboration.title}, {name}: built at "
               f"{digest.built_at:%Y-%m-%d %H:%M} UTC.")


@digests.command("backfill")
@click.option("--collaboration", "collaboration_id", type=int,
              help="Only this collaboration; every active one when not given.")
def backfill_command(collaboration_id: int | None) -> None:
    """Build every closed period's missing digest (none is sent)."""
    from coprod.common import utcnow
    from coprod.digests.tasks import active_collaborations, build_one, missing

    if collaboration_id is not None:
        _collaboration(collaboration_id)
    now = utcnow()
    todo = [(c.id, p) for c in active_collaborations(collaboration_id)
            for p in missing(c, now, every=True)]
    built = 0
    with click.progressbar(todo, label="Building digests", show_pos=True) as bar:
        for cid, period in bar:
            built += build_one(cid, period.start, now=now) is not None
    click.echo(f"Built {built} digests.")


# -- run ------------------------------------------------------------------------------------

@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host: str, port: int) -> None:
    """Run web, a Celery worker and Celery beat together for local use; Ctrl-C stops all."""
    if not (PROJECT_ROOT / "celery_worker.py").exists():
        raise click.ClickException(f"celery_worker.py not found in {PROJECT_ROOT}.")
    _warn_if_not_migrated()
    instance = Path(current_app.instance_path)
    commands = _child_commands(host, port, current_app.config["CELERY"])
    children = _spawn_all(commands, _child_environment(instance))
    click.echo(f"Coprod runs at http://{host}:{port} (web, worker and beat; Ctrl-C stops all).")
    code = _supervise(children)
    sys.exit(code)


def _warn_if_not_migrated() -> None:
    """Pages fail on an empty database; say what to do before the logs scroll it away."""
    from alembic.migration import MigrationContext
    from sqlalchemy.exc import SQLAlchemyError

    from coprod.extensions import db

    try:
        with db.engine.connect() as conn:
            migrated = bool(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        click.echo(f"coprod run: the database is not reachable yet ({exc.__class__.__name__}).",
                   err=True)
        return
    if not migrated:
        click.echo("coprod run: the database has no tables; run `coprod db upgrade` first.",
                   err=True)


def _child_environment(instance: Path) -> dict[str, str]:
    """The parent's environment, plus what makes the children find the same app and files."""
    env = dict(os.environ)
    env["COPROD_INSTANCE_PATH"] = str(instance)
    env["FLASK_SKIP_DOTENV"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # celery_worker.py sits at the project root, outside the installed package.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    return env


def beat_arguments(celery_config: dict) -> list[str]:
    """Beat's scheduler: RedBeat with Redis (one beat fires, however many run), else the
    standard PersistentScheduler with its file in the instance folder."""
    scheduler = celery_config["beat_scheduler"]
    arguments = ["--scheduler", scheduler]
    if scheduler == "celery.beat:PersistentScheduler":
        arguments += ["--schedule", celery_config["beat_schedule_filename"]]
    return arguments


def _child_commands(host: str, port: int, celery_config: dict) -> list[tuple[str, list[str]]]:
    python = sys.executable
    return [
        ("web", [python, "-m", "flask", "--app", "coprod:create_app", "run", "--host", host,
                 "--port", str(port), "--no-reload", "--no-debugger", "--with-threads"]),
        # solo pool: one process, so the embedded SQLite files see one writer per process.
        ("worker", [python, "-m", "celery", "-A", "celery_worker", "worker", "--loglevel=INFO",
                    "--pool=solo", "--without-gossip", "--without-mingle"]),
        ("beat", [python, "-m", "celery", "-A", "celery_worker", "beat", "--loglevel=INFO",
                  *beat_arguments(celery_config)]),
    ]


def _spawn_all(commands: list[tuple[str, list[str]]], env: dict[str, str]
               ) -> dict[str, subprocess.Popen]:
    """Start every child in its own process group, so Ctrl-C reaches only the supervisor."""
    children: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in commands:
            children[name] = subprocess.Popen(  # noqa: S603  (our own interpreter and argv)
                argv, env=env, cwd=PROJECT_ROOT, process_group=0, stdin=subprocess.DEVNULL)
    except OSError as exc:
        _stop_all(children)
        raise click.ClickException(f"cannot start {name}: {exc}") from None
    return children


class _StopRequested:
    """Set by SIGINT/SIGTERM; the supervision loop notices it and stops the children."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self, signum, frame) -> None:
        self.signal = signum


def _supervise(children: dict[str, subprocess.Popen]) -> int:
    """Wait until a signal arrives or a child dies; then stop every child. Returns exit code."""
    stop = _StopRequested()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while stop.signal is None:
            dead = [(name, p.returncode) for name, p in children.items() if p.poll() is not None]
            if dead:
                name, code = dead[0]
                click.echo(f"coprod run: {name} exited with status {code}; stopping the others.",
                           err=True)
                _stop_all(children)
                return code or 1
            time.sleep(0.2)
        click.echo("coprod run: stopping web, worker and beat ...", err=True)
        _stop_all(children)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every child (Celery shuts down warm), wait a while, then kill what is left."""
    for process in children.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, process in children.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"coprod run: {name} did not stop in time; killing it.", err=True)
            process.kill()
            process.wait()
