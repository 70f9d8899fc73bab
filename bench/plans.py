"""The query plans of the read path at scale: EXPLAIN (ANALYZE, BUFFERS) of every statement.

    .venv/bin/python bench/plans.py [--sizes 10000,100000] [--only feed,api,reflection,search]

For each size it takes the database bench/http.py seeded (bench_10k, bench_100k: run that
first; this script seeds nothing and changes nothing but what a request itself writes), signs
in as the bench's reader in process, makes one request to each endpoint and keeps the SQL
statements it ran, with their parameters. Each SELECT (or WITH ... SELECT) is then run again
under EXPLAIN (ANALYZE, BUFFERS) on a connection of its own with jit = off, as the app runs
them.
It prints per endpoint the planning and execution time of all its statements together, the
slowest statement with its plan's top line, and every sequential scan of a table that grows
with the collaboration (reflections, replies, notifications, citizen references, partner
knowledge, messages): a plan that stays cheap as the data grows reads those by index.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# bench/http.py shadows the standard library's http when its folder is on sys.path: load it
# by file under another name, after taking the folder off (it does the same itself).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
_spec = importlib.util.spec_from_file_location("coprod_bench_http", HERE / "http.py")
bench_http = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench_http  # its dataclasses look their module up
_spec.loader.exec_module(bench_http)

GROWING = ("reflections", "replies", "notifications", "citizen_references",
           "citizen_reference_categories", "partner_knowledge", "messages", "reactions",
           "reflection_tags", "mentions")


def statements_of(app, found, endpoint) -> list[tuple[str, dict]]:
    """The SELECT statements one request to the endpoint runs, with their parameters."""
    from sqlalchemy import event

    from coprod.extensions import db

    with app.app_context():
        engine = db.engine
    client = bench_http.signed_in_client(app, found)
    headers = {"Authorization": f"Bearer {found.token}"} if endpoint.token else {}
    client.get(endpoint.path, headers=headers)  # warm up
    seen = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.get(endpoint.path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    if response.status_code != endpoint.expect:
        raise SystemExit(f"{endpoint.name}: {response.status_code}")
    return seen


def explain(url: str, statement: str, parameters) -> dict:
    """The plan of one statement, run for real (ANALYZE), as JSON."""
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        conn.execute("SET jit = off")
        row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                           parameters).fetchone()
        conn.rollback()
    return row[0][0]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def report(size: int, name: str, plans: list[tuple[str, dict]]) -> None:
    planning = sum(p["Planning Time"] for _, p in plans)
    execution = sum(p["Execution Time"] for _, p in plans)
    slowest_sql, slowest = max(plans, key=lambda item: item[1]["Execution Time"])
    top = slowest["Plan"]
    print(f"  {name}: {len(plans)} SELECTs, planning {planning:.1f} ms, "
          f"execution {execution:.1f} ms; slowest {slowest['Execution Time']:.1f} ms "
          f"({top['Node Type']}, {top.get('Actual Rows')} rows): "
          f"{' '.join(slowest_sql.split())[:90]}...")
    scans = sorted({node["Relation Name"] for _, p in plans for node in _nodes(p["Plan"])
                    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in GROWING})
    print(f"    sequential scans of growing tables: {', '.join(scans) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--only", default="feed,api,reflection,search")
    parser.add_argument("--database-server",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432")
    parser.add_argument("--database-prefix", default="bench_",
                        help="the databases bench/http.py --database-prefix seeded")
    args = parser.parse_args()
    only = set(args.only.split(","))
    for size in [int(s) for s in args.sizes.split(",")]:
        url = bench_http.database_url(args.database_server, size, args.database_prefix)
        with tempfile.TemporaryDirectory() as instance:
            app = bench_http.make_app(url, instance, WTF_CSRF_ENABLED=False)
            from coprod.extensions import db

            with app.app_context():
                found = bench_http.stored_seed(db, size)
            if found is None:
                name = f"{args.database_prefix}{bench_http.label(size)}"
                print(f"{name} holds no seed of the current schema: run bench/http.py "
                      f"--sizes {size} --database-prefix {args.database_prefix} first",
                      file=sys.stderr)
                return 1
            print(f"== {size} reflections ({re.sub('.*/', '', url)})")
            for endpoint in bench_http.endpoints(found):
                if endpoint.name not in only or endpoint.form:
                    continue
                statements = statements_of(app, found, endpoint)
                plans = [(sql, explain(url, sql, params)) for sql, params in statements]
                report(size, endpoint.name, plans)
            with app.app_context():
                db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
