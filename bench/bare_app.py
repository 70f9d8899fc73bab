"""The baseline of bench/http.py: bare Flask and one psycopg keyset query of 20 reflections.

It reads the same reflections table Coprod serves, newest first, 20 rows a page, with the
(created_at, id) cursor of the previous page if one is given, and answers JSON: the least a
Python web worker can do for a feed page. Served by gunicorn with Coprod's settings:

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_40 \\
        gunicorn --workers 2 'bench.bare_app:app'   # threads: gunicorn.conf.py
"""

from __future__ import annotations

import os
import threading
from datetime import datetime

import psycopg
from flask import Flask, jsonify, request

PAGE = 20
QUERY = """
SELECT id, author_id, partner_id, kind, visibility, body, created_at
FROM reflections
WHERE collaboration_id = %(collaboration)s AND withdrawn_at IS NULL
  AND (%(before)s::timestamptz IS NULL OR (created_at, id) < (%(before)s, %(before_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(page)s
"""

app = Flask(__name__)
_local = threading.local()  # one connection per gunicorn thread, opened on first use


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        conn = _local.conn = psycopg.connect(url, autocommit=True)
    return conn


@app.get("/c/<int:collaboration_id>/reflections")
def reflections(collaboration_id: int):
    before = request.args.get("before")
    params = {"collaboration": collaboration_id, "page": PAGE,
              "before": datetime.fromisoformat(before) if before else None,
              "before_id": request.args.get("before_id", type=int)}
    rows = _connection().execute(QUERY, params).fetchall()
    return jsonify([{"id": r[0], "author_id": r[1], "partner_id": r[2], "kind": r[3],
                     "visibility": r[4], "body": r[5], "created_at": r[6].isoformat()}
                    for r in rows])
