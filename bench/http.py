"""Coprod over HTTP against bare Flask + psycopg, side by side, at several collaboration sizes.

    .venv/bin/python bench/http.py [--sizes 40,10000,100000] [--duration 10] [--connections 8]
                                   [--only feed,api,reflection,search,post] [--reseed]
                                   [--database-prefix bench_] [--no-page-cache]

For each size N it
  1. seeds the PostgreSQL database <prefix><N> (bench_40, bench_10k, bench_100k on
     --database-server with the default --database-prefix bench_) with one municipality
     collaboration of N reflections (bench/seed.py).
     THAT DATABASE IS WIPED when it does not hold a seed of this size, seed version and
     migration head (the table bench_seed says which); otherwise it is reused as it is, less
     the reflections earlier runs posted;
  2. counts the SQL statements of one request to each endpoint and times it, alone, in
     process (Flask's test client, a SQLAlchemy before_cursor_execute event, after one
     warm-up request; CSRF is off in that app, which changes no query): once built (the
     page cache emptied before it), once again with nothing changed (answered from the
     page cache where the endpoint has one, coprod/pagecache.py);
  3. serves bench/bare_app.py, and Coprod, with gunicorn as the Dockerfile and
     docker-compose.yml do (gunicorn.conf.py: each worker on a listening socket of its own,
     two threads; --workers 2 here for two cores, an access log), on loopback ports;
     Coprod afresh for each endpoint, so that requests wrk leaves unanswered at the end of
     one run (and their queries, ended too) weigh on no other;
  4. signs in over HTTP as a job centre staff member, whose organization has a need to know
     and consents for the citizens (the expensive reader), checks that the endpoint answers
     as it should (which also warms a worker up), then drives it with wrk (-t1,
     --connections, --duration, --latency, bench/wrk.lua): the feed page, the API list with
     a personal access token, a reflection page (about a citizen, with replies), a search
     (then again with one connection, wrk -c1: the issue's search target is single-client),
     posting a reflection (web form, CSRF); and the bare baseline;
  5. prints, per size and endpoint, req/s, p50, p95, p99 (wrk; p95 from bench/wrk.lua's
     done(); "> duration" when no request finished), statements per request and the time of
     one request alone, and req/s as a fraction of the bare baseline's, measured again on
     either side of each run of an endpoint, the mean of the two (the machine's speed drifts
     within minutes); the machine's load average before and after.

wrk sends one reader's requests, so a cached endpoint is answered from the page cache after
its first request: what a member rereading a page gets. --no-page-cache serves every request
built, as the first reader after any change gets it.

Bounded: the whole run stops itself after --time-limit seconds (servers included), and
listens on 127.0.0.1 only. Redis: --redis-url (rate limits; nothing else is queued).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/http.py`, this file's folder comes first on sys.path, where this
# module would shadow the standard library's `http`: take the folder off before importing.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import http.cookiejar  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import runpy  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402

ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import seed as seeding  # noqa: E402

USER_AGENT = "coprod-bench"  # the session's "strong" protection binds it to the log-in's
SECRET_KEY = "coprod-bench-secret-key-not-for-production"
ENDPOINTS = ["me", "feed", "api", "reflection", "search", "post"]
LABELS = {"me": "API who am I (floor)", "feed": "feed page", "api": "API list",
          "reflection": "reflection page", "search": "search", "post": "post a reflection",
          "bare": "bare Flask + psycopg", "search1": "search, one client"}
# The target for search is single-client: after the search's run with --connections,
# one more with a single connection (wrk -c1), whose p95 is the figure to compare with 50 ms.
SINGLE = {"search": "search1"}


def label(size: int) -> str:
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


# -- the seeded database ---------------------------------------------------------------------

def database_url(server: str, size: int, prefix: str = "bench_") -> str:
    """The database of one size: <prefix><size> (bench_40, bench_10k, bench_100k)."""
    return f"{server.rstrip('/')}/{prefix}{label(size)}"


def ensure_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def make_app(url: str, instance: str, **overrides):
    os.environ["COPROD_INSTANCE_PATH"] = instance
    from coprod import create_app

    return create_app({"SECRET_KEY": SECRET_KEY, "SQLALCHEMY_DATABASE_URI": url,
                       "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://",
                       "CELERY": {"broker_url": "memory://", "task_always_eager": False},
                       **overrides})


def _head(db) -> str:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() or ""
        except Exception:  # no alembic_version yet: an empty database
            return ""


def _script_head() -> str:
    from alembic.script import ScriptDirectory
    from flask import current_app

    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head() or ""


def stored_seed(db, size: int) -> seeding.Seeded | None:
    """The seed this database holds, if it is of this size, version and migration head."""
    from sqlalchemy import text

    if _head(db) != _script_head():
        return None
    with db.engine.connect() as conn:
        try:
            info = conn.execute(text("SELECT info FROM bench_seed")).scalar()
        except Exception:
            return None
    if not info:
        return None
    found = seeding.Seeded(**json.loads(info))
    if found.size != size or found.version != seeding.SEED_VERSION:
        return None
    return found


def prepare(app, size: int, reseed: bool) -> seeding.Seeded:
    """Reuse the stored seed, or wipe, migrate and seed afresh; then drop what runs posted."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from coprod.extensions import db

    with app.app_context():
        found = None if reseed else stored_seed(db, size)
        if found is None:
            started = time.perf_counter()
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            upgrade()
            found = seeding.seed(db, size)
            with db.engine.begin() as conn:
                conn.execute(text("CREATE TABLE bench_seed (info text)"))
                conn.execute(text("INSERT INTO bench_seed VALUES (:info)"),
                             {"info": json.dumps(found.as_json())})
            _vacuum(db)
            print(f"  seeded {size} reflections in {time.perf_counter() - started:.1f} s: "
                  f"{found.counts}", flush=True)
        else:
            print(f"  reusing the seed of {size} reflections: {found.counts}", flush=True)
        trim(db, found)
        db.session.remove()
        db.engine.dispose()
    return found


# Tables a run writes to: vacuumed after a trim.
WRITTEN_TABLES = ("reflections", "page_epoch", "user_sessions")


def trim(db, found: seeding.Seeded) -> None:
    """Delete the reflections that earlier runs posted (their rows cascade), then vacuum what
    runs write: where autovacuum is off (as on this machine's server), the dead rows of run
    after run stay in the tables and their indexes, and a later run reads through them (a
    search over 40 reflections went from 9 ms to 35 ms after some 75,000 posts trimmed)."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM reflections WHERE id > :last"),
                     {"last": found.max_reflection_id})
    _vacuum(db, WRITTEN_TABLES)


def _vacuum(db, tables: tuple[str, ...] = ()) -> None:
    """VACUUM (ANALYZE) the tables, or the whole database. A fresh seed is vacuumed whole, as
    autovacuum keeps a served database: analyzed only, its tables had no visibility map and
    no hint bits (the first runs' reads wrote them), and replies kept 13,000 dead rows of the
    seeding's updates (a search at 100,000 reflections, single client: p50 80 ms before
    the VACUUM, 67 ms after)."""
    # On the driver's connection: the app's engine begins a transaction before any statement
    # that is not a read (coprod/readonly.py), and VACUUM runs outside one.
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute(f"VACUUM (ANALYZE) {', '.join(tables)}".rstrip())
    finally:
        raw.close()


def trim_app(app, found: seeding.Seeded) -> None:
    """trim() with the app's engine, its connections closed afterwards."""
    with app.app_context():
        from coprod.extensions import db

        trim(db, found)
        db.engine.dispose()


# -- what each endpoint is -------------------------------------------------------------------

@dataclass
class Endpoint:
    name: str
    path: str
    expect: int  # the status a working request answers
    form: dict | None = None  # a POST body ("{n}" numbered per request)
    token: bool = False  # Authorization: Bearer instead of the session cookie


def endpoints(found: seeding.Seeded) -> list[Endpoint]:
    c = found.collaboration_id
    return [
        # The least an authenticated request of Coprod costs: the token's look-up and a small
        # JSON answer, no policy query. Every other endpoint's ratio is bounded by this one's.
        Endpoint("me", "/api/v1/me", 200, token=True),
        Endpoint("feed", f"/c/{c}/reflections", 200),
        Endpoint("api", f"/api/v1/collaborations/{c}/reflections", 200, token=True),
        Endpoint("reflection", f"/c/{c}/reflections/{found.reflection_id}", 200),
        Endpoint("search", f"/c/{c}/search?q={urllib.parse.quote(found.search)}", 200),
        Endpoint("post", f"/c/{c}/reflections/new", 302, form={
            "kind": "improve", "perspective": "citizens", "component": "routines",
            "learning_level": "inter", "mode": "exploitation", "visibility": "collaboration",
            "attribution": "person", "tags": "", "citizen": "",
            "body": "Posted by the bench, number {n}: the minibus came late again.",
            "submit": "Post"}),
    ]


# -- statements per request, in process -------------------------------------------------------

def signed_in_client(app, found):
    """A test client of `app` signed in as the seed's reader through the log-in form, with
    the bench's User-Agent (the session's strong protection binds the log-in to it)."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    response = client.post("/login", data={"email": found.reader_email,
                                           "password": found.password})
    if response.status_code != 302:
        raise SystemExit(f"in-process log-in failed: {response.status_code}")
    return client


def count_statements(app, found: seeding.Seeded, wanted: list[Endpoint]
                     ) -> dict[str, tuple[int, float, int, float]]:
    """(statements, seconds) of one request to each endpoint built, then (statements,
    seconds) of the same request answered again with nothing changed (from the worker's page
    cache where the endpoint has one, coprod/pagecache.py), alone, in process, after a
    warm-up request."""
    from sqlalchemy import event

    from coprod import pagecache
    from coprod.extensions import db

    counts = {}
    with app.app_context():
        engine = db.engine
    client = signed_in_client(app, found)
    for endpoint in wanted:
        figures = []
        headers = {"Authorization": f"Bearer {found.token}"} if endpoint.token else {}
        for attempt in range(3):  # a warm-up; the page built; the page again
            seen = []

            def note(*_args, seen=seen):
                seen.append(1)

            if attempt == 1:
                with app.app_context():
                    pagecache.clear()
            if attempt:
                event.listen(engine, "before_cursor_execute", note)
                started = time.perf_counter()
            try:
                if endpoint.form:
                    body = {k: v.replace("{n}", f"count-{attempt}")
                            for k, v in endpoint.form.items()}
                    response = client.post(endpoint.path, data=body, headers=headers)
                else:
                    response = client.get(endpoint.path, headers=headers)
            finally:
                if attempt:
                    event.remove(engine, "before_cursor_execute", note)
                    figures += [len(seen), time.perf_counter() - started]
            if response.status_code != endpoint.expect:
                raise SystemExit(f"{endpoint.name}: {response.status_code} in process, "
                                 f"expected {endpoint.expect}")
        counts[endpoint.name] = tuple(figures)
    return counts


# -- servers ---------------------------------------------------------------------------------

def served_threads() -> int:
    """The threads per worker Coprod is served with (gunicorn.conf.py): the bench's default,
    for both servers."""
    return int(runpy.run_path(str(ROOT / "gunicorn.conf.py"))["threads"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn on a loopback port, in its own process group, stopped by stop(). It runs
    in the project's folder, so gunicorn reads gunicorn.conf.py as in production; the
    command line's options take precedence."""

    def __init__(self, name: str, app_spec: str, env: dict, args, logdir: Path):
        self.name, self.port = name, free_port()
        self.log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 (closed in stop())
        command = [str(Path(sys.executable).parent / "gunicorn"),
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(args.workers),
                   "--threads", str(args.threads), "--timeout", "120",
                   "--graceful-timeout", "2",
                   "--access-logfile", str(logdir / f"{name}-access.log"), app_spec]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited; see {self.log.name}")
            try:
                urllib.request.urlopen(self.url + path, timeout=5)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{self.name} did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# -- a signed-in browser, over HTTP ----------------------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def open(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            response = self.opener.open(request, timeout=120)
        except urllib.error.HTTPError as err:
            response = err
        return response.status, response.headers, response.read().decode("utf-8", "replace")

    def csrf(self, path: str) -> str:
        _status, _headers, html = self.open(path)
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        if not found:
            raise SystemExit(f"no CSRF token on {path}")
        return found.group(1)

    def sign_in(self, email: str, password: str) -> None:
        token = self.csrf("/login")
        status, headers, _ = self.open("/login", {"email": email, "password": password,
                                                  "csrf_token": token})
        if status != 302 or "/login" in headers.get("Location", ""):
            raise SystemExit(f"log-in over HTTP failed: {status}")

    @property
    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


# -- wrk -------------------------------------------------------------------------------------

@dataclass
class Figures:
    rps: float
    p50: float  # seconds
    p99: float
    requests: int
    statuses: dict
    errors: str = ""
    expect: int = 200
    p95: float = 0.0  # seconds
    cpu: float = 0.0  # seconds of the whole machine's busy CPU per request (all processes)

    @property
    def refused(self) -> dict:
        """Answers other than a working request's (a run with any is not a measurement)."""
        return {s: n for s, n in self.statuses.items() if s != str(self.expect)}


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def busy_seconds() -> float:
    """CPU time the whole machine has been busy (user, nice, system, irq, softirq) since it
    started, from /proc/stat; 0.0 where there is none."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, args, env: dict, expect: int = 200, connections: int | None = None
            ) -> Figures:
    command = ["wrk", "-t1", f"-c{connections or args.connections}", f"-d{args.duration}s",
               "--latency",
               "--timeout", "60s", "-s", str(ROOT / "bench" / "wrk.lua"), url]
    busy = busy_seconds()
    out = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True,
                         timeout=args.duration + 90).stdout
    busy = busy_seconds() - busy  # the server's, PostgreSQL's and wrk's, as the baseline's
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # the Latency Distribution lines (a "+/- Stdev" column may also end in "99%")
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)[ \t]*$", out, re.M).group(1))
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)[ \t]*$", out, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    statuses = dict(re.findall(r"status (\S+) (\d+)", out))
    errors = re.search(r"Socket errors: (.*)", out)
    p95 = re.search(r"^p95 (\d+)$", out, re.M)  # bench/wrk.lua's done(), in microseconds
    return Figures(rps, p50, p99, requests, {k: int(v) for k, v in statuses.items()},
                   errors.group(1) if errors else "", expect,
                   int(p95.group(1)) * 1e-6 if p95 else 0.0, busy / requests if requests else 0.0)


def check(browser: Browser, endpoint: Endpoint, env: dict) -> None:
    """One request as wrk will send it: it must answer as a working request does."""
    headers = {"Authorization": env["BENCH_AUTHORIZATION"]} if endpoint.token else {
        "Cookie": env["BENCH_COOKIE"]}  # wrk's cookie, not the browser's jar
    data = ({k: v.replace("{n}", "check") for k, v in
             urllib.parse.parse_qsl(env["BENCH_FORM"])} if endpoint.form else None)
    status, response_headers, body = Browser(browser.base).open(endpoint.path, data, headers)
    location = response_headers.get("Location", "")
    if status != endpoint.expect or "/login" in location:
        raise SystemExit(f"{endpoint.name}: {status} {location} {body[:300]}")


def drive(coprod: Server, endpoint: Endpoint, found: seeding.Seeded, args,
          connections: int | None = None) -> Figures:
    """Sign in, check that the endpoint answers as it should (the request also warms a worker
    up), then wrk it (with --connections, or `connections`)."""
    browser = Browser(coprod.url)
    browser.sign_in(found.reader_email, found.password)
    wrk_env = {"BENCH_USER_AGENT": USER_AGENT}
    if endpoint.form:
        form = {**endpoint.form, "csrf_token": browser.csrf(endpoint.path)}
        wrk_env["BENCH_FORM"] = urllib.parse.urlencode(form).replace("%7Bn%7D", "{n}")
    elif not endpoint.token:
        # The reader's first page after the log-in: it puts the CSRF secret in the session
        # (its forms carry it), as a browser keeps the cookie that says so.
        browser.open(endpoint.path)
    if endpoint.token:
        wrk_env["BENCH_AUTHORIZATION"] = f"Bearer {found.token}"
    else:  # the session as it is now: the form's page put the CSRF secret in it
        wrk_env["BENCH_COOKIE"] = browser.cookie
    check(browser, endpoint, wrk_env)
    return run_wrk(coprod.url + endpoint.path, args, wrk_env, endpoint.expect, connections)


def drive_rounds(coprod: Server, endpoint: Endpoint, found: seeding.Seeded, args,
                 bare_url: str, tidy: Callable[[], None] = lambda: None
                 ) -> dict[str, list[tuple[Figures, Figures]]]:
    """--rounds runs of the endpoint (and of its single-client run if it has one), each
    between two runs of the bare baseline, and paired with the mean of those two. This
    machine's speed drifts by two or three times within minutes (a shared host): a ratio is
    only a ratio of the same moment. A baseline measured only before the endpoint put the
    drift of that run's seconds all on one side (one posting run's rounds read 0.14 and 0.56
    within a minute); the mean of the baselines on either side of it is the baseline at its
    moment as far as a linear drift goes. Each round's baseline after is the next round's
    before, so this costs one baseline run more than one per round.

    After each run of an endpoint that writes (a form), `tidy()` takes away what it wrote:
    the baseline after it reads the seeded table again. Left in place, the thousands of
    rows a posting round adds (with autovacuum off, not even analyzed) made the baseline's
    query cost PostgreSQL 0.75 to 1.3 ms instead of 0.05, and posting's ratio rose from round
    to round (0.22, 0.35, 0.57) on a slower baseline, not a faster post."""
    rounds: dict[str, list[tuple[Figures, Figures]]] = {endpoint.name: []}
    single = SINGLE.get(endpoint.name)
    if single:
        rounds[single] = []
    before = run_wrk(bare_url, args, {"BENCH_USER_AGENT": USER_AGENT})
    for _round in range(args.rounds):
        figures = drive(coprod, endpoint, found, args)
        alone = drive(coprod, endpoint, found, args, connections=1) if single else None
        if endpoint.form:
            tidy()
        after = run_wrk(bare_url, args, {"BENCH_USER_AGENT": USER_AGENT})
        alongside = _between(before, after)
        rounds[endpoint.name].append((alongside, figures))
        if single:
            rounds[single].append((alongside, alone))
        before = after
    return rounds


def _between(before: Figures, after: Figures) -> Figures:
    """The baseline at the moment between two of its runs: their mean rate and CPU per
    request (the rest, latencies and counts, as the run before shows them)."""
    return replace(before, rps=(before.rps + after.rps) / 2, cpu=(before.cpu + after.cpu) / 2)


def _median_round(pairs: list[tuple[Figures, Figures]]) -> tuple[Figures, Figures]:
    """The round whose ratio to its baseline is the median (the lower one of an even count)."""
    ranked = sorted(pairs, key=lambda pair: pair[1].rps / pair[0].rps if pair[0].rps else 0.0)
    return ranked[(len(ranked) - 1) // 2]


def end_backends(url: str) -> None:
    """End the bench database's connections that a stopped server's queries left running."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND pid <> pg_backend_pid()")


# -- one size --------------------------------------------------------------------------------

def bench_size(size: int, args, only: set[str]) -> dict:
    url = database_url(args.database_server, size, args.database_prefix)
    ensure_database(url)
    instance = tempfile.mkdtemp(prefix="coprod-bench-")
    print(f"\n== {size} reflections ({url.rsplit('/', 1)[1]})", flush=True)
    try:
        app = make_app(url, instance)
        found = prepare(app, size, args.reseed)
        wanted = [e for e in endpoints(found) if e.name in only]
        counting = make_app(url, instance, WTF_CSRF_ENABLED=False)
        statements = count_statements(counting, found, wanted)
        with counting.app_context():
            from coprod.extensions import db

            trim(db, found)
            db.engine.dispose()
        logdir = Path(instance) / "logs"
        logdir.mkdir()
        env = {"DATABASE_URL": url, "REDIS_URL": args.redis_url, "SECRET_KEY": SECRET_KEY,
               "COPROD_INSTANCE_PATH": instance, "BENCH_DATABASE_URL": url}
        coprod_env = {**env, "BASE_URL": "http://127.0.0.1",
                      **({"PAGE_CACHE_MIB": "0"} if args.no_page_cache else {})}
        bare = Server("bare", "bench.bare_app:app", env, args, logdir)
        try:
            bare.wait_ready(f"/c/{found.collaboration_id}/reflections")
            load = os.getloadavg()[0]
            bare_url = f"{bare.url}/c/{found.collaboration_id}/reflections"
            results = {"bare": run_wrk(bare_url, args, {"BENCH_USER_AGENT": USER_AGENT})}
            ratios = {}
            for endpoint in wanted:
                # A server of its own for each endpoint: the requests wrk left unanswered at
                # the end of its run must not weigh on the next endpoint's.
                coprod = Server(f"coprod-{endpoint.name}", "coprod:create_app()", coprod_env,
                                args, logdir)
                try:
                    coprod.wait_ready("/healthz")
                    rounds = drive_rounds(coprod, endpoint, found, args, bare_url,
                                          tidy=lambda: trim_app(app, found))
                finally:
                    coprod.stop()
                    end_backends(url)
                for name, pairs in rounds.items():
                    ratios[name] = {
                        "rps": [figures.rps / alongside.rps if alongside.rps else 0.0
                                for alongside, figures in pairs],
                        "cpu": [alongside.cpu / figures.cpu if figures.cpu else 0.0
                                for alongside, figures in pairs]}
                    results[f"bare:{name}"], results[name] = _median_round(pairs)
                    figures = results[name]
                    print(f"  {LABELS[name]}: {figures.rps:.1f} req/s, p50 "
                          f"{_ms(figures.p50)}, p95 {_ms(figures.p95)}, p99 "
                          f"{_ms(figures.p99)}, {figures.requests} requests, answers "
                          f"{figures.statuses}; × bare by round "
                          f"{', '.join(f'{r:.2f}' for r in ratios[name]['rps'])}, by CPU "
                          f"{', '.join(f'{r:.2f}' for r in ratios[name]['cpu'])}", flush=True)
        finally:
            bare.stop()
        trim_app(app, found)
        return {"size": size, "results": results, "statements": statements, "seed": found,
                "load": (load, os.getloadavg()[0]), "ratios": ratios}
    finally:
        shutil.rmtree(instance, ignore_errors=True)


# -- the report ------------------------------------------------------------------------------

def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def report(runs: list[dict], args) -> str:
    lines = [f"wrk -t1 -c{args.connections} -d{args.duration}s; gunicorn --workers "
             f"{args.workers} --threads {args.threads}; page cache "
             f"{'off' if args.no_page_cache else 'on'}; statements: one request in process, "
             "built, then again with nothing changed",
             *(f"{run['size']:,} reflections: load average {run['load'][0]:.1f} before, "
               f"{run['load'][1]:.1f} after ({os.cpu_count()} cores)" for run in runs),
             "",
             f"× bare: req/s over the bare baseline's, measured just before the endpoint "
             f"(its req/s in the column before); of {args.rounds} such rounds the one with the "
             f"median ratio is shown, and every round's ratio in the last column",
             "CPU: the whole machine's busy CPU time per request during the run (the server, "
             "PostgreSQL and wrk); × bare by CPU: the baseline's over the endpoint's, the "
             "median of the rounds. It drifts less than req/s from minute to minute",
             "",
             "| reflections | endpoint | req/s | p50 | p95 | p99 | statements built / again "
             "| alone built / again | bare alongside | × bare | CPU | × bare by CPU "
             "| by round: × bare; by CPU |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | --- |"]
    for run in runs:
        bare = run["results"]["bare"]
        for name in ["bare", *[n for e in ENDPOINTS for n in (e, SINGLE.get(e)) if n]]:
            figures = run["results"].get(name)
            if figures is None:
                continue
            flag = f" (answers {figures.refused})" if figures.refused else ""
            if figures.errors:
                flag += f" (socket errors: {figures.errors})"
            counted = next((e for e, n in SINGLE.items() if n == name), name)
            if name == "bare":
                statements, alone = "1", ""
            else:
                built, built_s, again, again_s = run["statements"][counted]
                statements, alone = f"{built} / {again}", f"{_ms(built_s)} / {_ms(again_s)}"
            alongside = run["results"].get(f"bare:{name}", bare) if name != "bare" else bare
            ratio = figures.rps / alongside.rps if alongside.rps else 0
            rounds = run.get("ratios", {}).get(name, {"rps": [], "cpu": []})
            by_round = "; ".join(", ".join(f"{r:.2f}" for r in rounds[k]) for k in ("rps", "cpu"))
            by_cpu = (sorted(rounds["cpu"])[(len(rounds["cpu"]) - 1) // 2] if rounds["cpu"]
                      else 1.0 if name == "bare" else 0.0)
            cpu = f"{figures.cpu * 1000:.2f} ms" if figures.cpu else ""
            p50, p95, p99 = ((_ms(figures.p50), _ms(figures.p95), _ms(figures.p99))
                             if figures.requests else (f"> {args.duration} s",) * 3)
            lines.append(f"| {run['size']:,} | {LABELS[name]}{flag} | {figures.rps:.1f} | "
                         f"{p50} | {p95} | {p99} | {statements} | {alone} | "
                         f"{alongside.rps:.1f} | {ratio:.3f} | {cpu} | {by_cpu:.3f} | "
                         f"{by_round if name != 'bare' else ''} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="40,10000",
                        help="reflections per collaboration, comma-separated")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=8, help="wrk's open connections")
    parser.add_argument("--rounds", type=int, default=3,
                        help="pairs of (bare baseline, endpoint) runs per endpoint; the median "
                             "ratio's round is reported")
    parser.add_argument("--only", default=",".join(ENDPOINTS),
                        help=f"endpoints to drive, of {','.join(ENDPOINTS)}")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both apps)")
    parser.add_argument("--threads", type=int, default=served_threads(),
                        help="gunicorn threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--database-server", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database-prefix", default="bench_",
                        help="databases are <prefix><size>, e.g. bench_10k; another prefix "
                             "keeps another run's seeds (each is wiped when reseeded)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--reseed", action="store_true", help="seed even if a seed is stored")
    parser.add_argument("--time-limit", type=int, default=3600,
                        help="seconds after which the run stops itself, servers included")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="serve Coprod with its page cache off (PAGE_CACHE_MIB=0): every "
                             "page built, as the first reader after a change gets it")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (Debian: apt-get install wrk)")
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(ENDPOINTS)
    if unknown:
        raise SystemExit(f"unknown endpoints: {', '.join(sorted(unknown))}")

    def out_of_time(*_):
        raise SystemExit(f"stopped after {args.time_limit} s (--time-limit)")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # servers stop too
    signal.alarm(args.time_limit)
    runs = [bench_size(int(size), args, only) for size in args.sizes.split(",")]
    table = report(runs, args)
    print("\n" + table)
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"size": r["size"], "statements": r["statements"], "load": r["load"],
             "ratios": r["ratios"],
             "results": {k: vars(v) for k, v in r["results"].items()}} for r in runs],
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
