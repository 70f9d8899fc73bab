"""How theme grouping scales: coprod.digests.themes.group over N synthetic reflections, no
database.

    .venv/bin/python bench/theme_scale.py [--texts 3000] [--method default] [--danish 0.15]

The texts are bench/digest_scale.py's sentences about recurring subjects (varied openings,
details and a running number), a share of them with Danish openings, so the language step has
work to do. It prints, cold (nothing embedded yet) and warm (every vector in the store, as
after an earlier digest build: an in-memory stand-in for the database's store), the wall time
of the vectors and of the grouping after them, the number of themes and ungrouped texts, the
load average (the machine is shared), and the peak memory: Python's allocations in a warm
grouping (tracemalloc, in a run of its own: tracing slows Python down several times) and the
process's maximum resident set size (getrusage; the model's memory-mapped weights are
counted there once touched). It stops itself after TIME_LIMIT seconds.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sys
import time
import tracemalloc
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# bench/http.py must not stand in for the standard library's http (werkzeug imports it): the
# bench folder goes last on the path, after the standard library has been found.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(BENCH.parent))
import http.server  # noqa: E402,F401

sys.path.append(str(BENCH))

from digest_scale import OPENINGS, SEED, SUBJECTS  # noqa: E402

TIME_LIMIT = 900
DANISH_OPENINGS = ["Vi har bemærket at", "I denne uge har", "Igen er", "Vores personale siger at",
                   "Det hjalp at", "Vi bør aftale"]


def texts(count: int, danish: float) -> list[str]:
    rng = random.Random(SEED)
    found = []
    for i in range(count):
        subject, details = rng.choice(SUBJECTS)
        opening = rng.choice(DANISH_OPENINGS if rng.random() < danish else OPENINGS)
        found.append(f"{opening} {subject}: {rng.choice(details)}, {rng.choice(details)} "
                     f"(note {i}).")
    return found


class MemoryStore:
    """Stands in for the database's vector store (coprod/digests/vectors.py) without a database:
    the same load/save calls, vectors kept by text. bench/digest_scale.py times the real one."""

    def __init__(self):
        self.vectors: dict[tuple[str, str], object] = {}

    def load(self, model, texts):
        return [self.vectors.get((model, t)) for t in texts]

    def save(self, model, texts, vectors):
        self.vectors.update({(model, t): v.copy() for t, v in zip(texts, vectors, strict=True)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--method", default="default")
    parser.add_argument("--danish", type=float, default=0.15)
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(f"stopped after {TIME_LIMIT} s"))
    signal.alarm(TIME_LIMIT)

    from coprod.digests import themes

    corpus = texts(args.texts, args.danish)
    store = MemoryStore()
    print(f"{args.texts} texts, method {args.method}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for run in ("cold", "warm"):
        themes._vector_cache.clear()  # a fresh worker: only the store has vectors
        started = time.perf_counter()
        vectors = themes.METHODS[args.method](corpus, store=store)
        embedded = time.perf_counter() - started
        # The vectors are now in the process's cache: this is the grouping after the vectors.
        grouping = themes.group(corpus, method=args.method, store=store)
        total = time.perf_counter() - started
        print(f"  {run}: vectors {embedded:.1f} s ({args.texts / embedded:.0f} texts/s), "
              f"grouping after the vectors {total - embedded:.1f} s, total {total:.1f} s wall "
              f"({grouping.method}, {vectors.shape[1]} dimensions)")
    print(f"  {len(grouping.themes)} themes (floor {themes.min_theme_size(args.texts)}), "
          f"{len(grouping.ungrouped)} ungrouped")
    # Tracing allocations slows Python down several times: measured apart from the timings.
    themes._vector_cache.clear()
    tracemalloc.start()
    themes.group(corpus, method=args.method, store=store)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory: {peak / 2**20:.0f} MiB of Python allocations in a warm grouping "
          f"(tracemalloc), {rss:.0f} MiB maximum resident set of the process (embedding "
          f"included); load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
