"""Instructions per request, counted by callgrind, against bare Flask + psycopg in the same run.

    .venv/bin/python bench/instructions.py [--size 40] [--requests 30]
                                           [--only me,feed,api,reflection,search,post]

bench/http.py's req/s and CPU ratios drift with the minute they are measured in (the host
gives this VM more or less of its CPUs): one endpoint's ratio moved from 0.23 to 0.78 within
one run, so a change worth 5 % cannot be seen there. This counts what does not drift: the
instructions the web worker's Python process executes for one request, under valgrind's
callgrind, the same for the same code whatever else the machine does.

For each endpoint of bench/http.py (and its bare baseline, bench/bare_app.py) a child process
runs under `valgrind --tool=callgrind --instr-atstart=no`: it builds the app on the seeded
database <prefix><size> (seeded by bench/http.py's rules, `--reseed` to force), signs in,
sends 15 requests to warm up, switches counting on (`callgrind_control -i on`), sends
`--requests` requests through Flask's test client, and switches it off. Answered again with
nothing changed, as a member rereading a page gets it (the page cache's path for the feed,
the reflection page and the API list); `--built` empties the page cache before every request.

What it does not count: PostgreSQL's work, gunicorn's HTTP parsing, the kernel and wrk,
which bench/http.py's CPU ratio includes. A ratio here is the web worker's Python work only,
and the figure to compare a change with; bench/http.py stays the figure of the issue's goals.
It needs valgrind (Debian package `valgrind`); 30 requests of one endpoint take about a minute.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/instructions.py`, this folder comes first on sys.path, where
# bench/http.py would shadow the standard library's `http`: take the folder off first.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

WARM_UP = 15
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def collected(valgrind_output: str) -> int:
    """The instructions callgrind counted ("Collected : N" on its last lines)."""
    found = _COLLECTED.findall(valgrind_output)
    if not found:
        raise ValueError("callgrind reported no count")
    return int(found[-1])


def _counting(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   capture_output=True, check=False)


# -- the child, under valgrind ------------------------------------------------------------------

def _bare_requests(url: str, found):
    os.environ["BENCH_DATABASE_URL"] = url
    from bench.bare_app import app

    client = app.test_client()
    path = f"/c/{found.collaboration_id}/reflections"
    return lambda _n: client.get(path)


def _coprod_requests(url: str, found, name: str, built: bool):
    from bench import http as bench_http
    from coprod import pagecache

    app = bench_http.make_app(url, tempfile.mkdtemp(prefix="coprod-instructions-"),
                              WTF_CSRF_ENABLED=False)
    client = bench_http.signed_in_client(app, found)
    cookie = client.get_cookie("session")
    endpoint = next(e for e in bench_http.endpoints(found) if e.name == name)
    headers = {"Authorization": f"Bearer {found.token}"} if endpoint.token else {}

    def one(n: int):
        if built:
            with app.app_context():
                pagecache.clear()
        if endpoint.form:  # the same log-in every time, as wrk sends it (no flash piles up)
            client.set_cookie(cookie.key, cookie.value)
            body = {k: v.replace("{n}", f"instructions-{n}") for k, v in endpoint.form.items()}
            answer = client.post(endpoint.path, data=body, headers=headers)
        else:
            answer = client.get(endpoint.path, headers=headers)
        if answer.status_code != endpoint.expect:
            raise SystemExit(f"{name}: {answer.status_code}, expected {endpoint.expect}")
        return answer

    return one


def child(args) -> int:
    from bench import seed as seeding

    found = seeding.Seeded(**json.loads(args.seed))
    url = args.url
    one = (_bare_requests(url, found) if args.child == "bare"
           else _coprod_requests(url, found, args.child, args.built))
    for n in range(WARM_UP):
        one(n)
    _counting(True)
    for n in range(args.requests):
        one(WARM_UP + n)
    _counting(False)
    return 0


# -- the parent ---------------------------------------------------------------------------------

def count(name: str, url: str, found, args) -> int:
    """Instructions per request of one endpoint ("bare" for the baseline)."""
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=/dev/null", sys.executable, str(Path(__file__).resolve()),
               "--child", name, "--url", url, "--seed", json.dumps(found.as_json()),
               "--requests", str(args.requests)] + (["--built"] if args.built else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=args.time_limit)
    if done.returncode != 0:
        raise SystemExit(f"{name}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return round(collected(done.stderr) / args.requests)


def count_all(wanted: list[str], url: str, found, args, tidy) -> dict[str, int]:
    """Instructions per request of the baseline, then of each endpoint wanted; after an
    endpoint that posts, tidy() takes its rows away, so that the endpoints after it read the
    seeded tables (a search counted after the posts found them too)."""
    from bench import http as bench_http

    writing = {e.name for e in bench_http.endpoints(found) if e.form}
    counts = {}
    for name in ["bare", *wanted]:
        counts[name] = count(name, url, found, args)
        print(f"  {name}: {counts[name] / 1e6:.2f} M instructions per request", flush=True)
        if name in writing:
            tidy()
    return counts


def _tidy(url: str, found) -> None:
    """bench/http.py's trim() of what posts added, with an app of its own."""
    from bench import http as bench_http

    bench_http.trim_app(bench_http.make_app(url, tempfile.mkdtemp()), found)


def table(counts: dict[str, int], size: int) -> str:
    """The figures as a Markdown table, bare first, with each endpoint's ratio to it."""
    from bench.http import LABELS

    bare = counts["bare"]
    lines = [f"{size:,} reflections: instructions per request of the web worker's Python "
             "process (callgrind)", "",
             "| endpoint | instructions | × bare |", "| --- | ---: | ---: |"]
    for name, value in counts.items():
        lines.append(f"| {LABELS.get(name, name)} | {value / 1e6:.2f} M | {bare / value:.3f} |")
    return "\n".join(lines)


def main() -> int:
    from bench import http as bench_http

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40, help="reflections in the collaboration")
    parser.add_argument("--requests", type=int, default=30, help="requests counted per endpoint")
    parser.add_argument("--only", default=",".join(bench_http.ENDPOINTS),
                        help=f"endpoints, of {','.join(bench_http.ENDPOINTS)}")
    parser.add_argument("--built", action="store_true",
                        help="empty the page cache before every request: pages built")
    parser.add_argument("--database-server",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database-prefix", default="bench_")
    parser.add_argument("--reseed", action="store_true", help="seed even if a seed is stored")
    parser.add_argument("--time-limit", type=int, default=900,
                        help="seconds one endpoint's count may take")
    parser.add_argument("--json", help="also write the counts to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is missing (Debian: apt-get install valgrind)")
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(bench_http.ENDPOINTS)
    if unknown:
        raise SystemExit(f"unknown endpoints: {', '.join(sorted(unknown))}")
    url = bench_http.database_url(args.database_server, args.size, args.database_prefix)
    bench_http.ensure_database(url)
    found = bench_http.prepare(bench_http.make_app(url, tempfile.mkdtemp()), args.size,
                               args.reseed)
    tidy = functools.partial(_tidy, url, found)
    try:
        counts = count_all(wanted, url, found, args, tidy)
    finally:
        tidy()  # what the posts added goes, also when a count failed
    print("\n" + table(counts, args.size))
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "built": args.built,
                                               "requests": args.requests, "counts": counts},
                                              indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
