"""The language a reflection is written in, and the function words of every language, for
digest themes.

Themes must group texts by what they say, not by their language (coprod/digests/themes.py
removes each language's mean direction), and labels must carry no function words in any
language. Both come from one maintained source, the ``stop-words`` package (BSD, lists for
33 languages, the app's English, Danish and Finnish among them): a text is in the language
whose function words it uses most, and a label word is never one of them.

Detection by function words is reliable for a sentence or more, which reflections are, and
it reads the text itself (a Danish coordinator may well write in English); where a text uses
no function word at all (a few words, a list of names), the author's locale decides, and where
that is unknown too, the text's language is "und" (undetermined) and it is grouped with
no language direction removed.
"""

from __future__ import annotations

import re
from functools import cache

# The languages detected: those of the app's pages (coprod/config.py) and the neighbours a
# partner's staff may write in. Norwegian is left out: its function words are Danish ones, and
# a Danish text read as Norwegian would have its language direction split in two. A text in
# another language is "und" unless its author's locale says otherwise.
DETECTED = ("en", "da", "fi", "sv", "de")
# Languages whose function words never appear in a label.
LABEL_LANGUAGES = (*DETECTED, "nb", "nl", "fr", "es", "pl")
UNDETERMINED = "und"
MIN_HITS = 2

TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@cache
def function_words(language: str) -> frozenset[str]:
    """The stop-word list of one language (empty when the package has none)."""
    from stop_words import StopWordError, get_stop_words

    try:
        return frozenset(w.lower() for w in get_stop_words(language))
    except StopWordError:
        return frozenset()


@cache
def any_function_words() -> frozenset[str]:
    """Function words of every language a label is checked against."""
    return frozenset().union(*(function_words(code) for code in LABEL_LANGUAGES))


def detect(text: str) -> str | None:
    """The language whose function words the text uses most (a tie goes to the earlier of
    DETECTED: Danish and Swedish share many); None when it uses fewer than MIN_HITS of them
    (one word is no evidence: "dog" is Danish for "however")."""
    tokens = [t.lower() for t in TOKEN.findall(text or "")]
    hits = [(sum(t in function_words(code) for t in tokens), -rank, code)
            for rank, code in enumerate(DETECTED)]
    best, _rank, code = max(hits)
    return code if best >= MIN_HITS else None


def detect_all(texts: list[str], known: list[str | None] | None = None) -> list[str]:
    """Each text's language: detected where clear, else the known one (the author's locale,
    its first two letters), else "und"."""
    known = known or [None] * len(texts)
    found = []
    for text, fallback in zip(texts, known, strict=True):
        code = detect(text) or (fallback or "")[:2].lower() or UNDETERMINED
        found.append(code)
    return found
