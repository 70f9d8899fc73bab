"""How theme grouping scales: coprod.digests.themes.group over N synthetic reflections, no
database.

    .venv/bin/python bench/theme_scale.py [--texts 3000] [--method default] [--danish 0.15]

The texts are bench/digest_scale.py's sentences about recurring subjects (varied openings,
details and a running number), a share of them with Danish openings, so the language step has
work to do. It prints the wall time of the embedding and of the whole grouping (the process
embeds each text once, so the first call is the one that counts), the number of themes and
ungrouped texts, and the peak memory: Python's allocations during the grouping (tracemalloc)
and the process's maximum resident set size (getrusage; the model's memory-mapped weights are
counted there once touched). It stops itself after TIME_LIMIT seconds.
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    tracemalloc.start()
    started = time.perf_counter()
    vectors = themes.METHODS[args.method](corpus)
    embedded = time.perf_counter() - started
    grouping = themes.group(corpus, method=args.method)
    total = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.texts} texts, method {args.method} ({grouping.method}), "
          f"{vectors.shape[1]} dimensions")
    print(f"  vectors: {embedded:.1f} s ({args.texts / embedded:.0f} texts/s)")
    print(f"  grouping with vectors: {total:.1f} s wall")
    print(f"  {len(grouping.themes)} themes (floor {themes.min_theme_size(args.texts)}), "
          f"{len(grouping.ungrouped)} ungrouped")
    print(f"  peak memory: {peak / 2**20:.0f} MiB of Python allocations (tracemalloc), "
          f"{rss:.0f} MiB maximum resident set")


if __name__ == "__main__":
    main()
