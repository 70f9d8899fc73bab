"""What changed between two versions of the charter, per question, word by word.

Members read the history to see who changed what; a word-level diff with the unchanged text
shortened to a little context reads better than a line diff of long paragraphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from coprod.spaces.models import Charter, CharterRevision

# Unchanged words kept on each side of a change.
CONTEXT_WORDS = 8
ELLIPSIS = "…"


@dataclass(frozen=True)
class Segment:
    """A run of text that was kept ("equal"), added ("insert") or removed ("delete")."""

    kind: str
    text: str


@dataclass(frozen=True)
class QuestionChange:
    key: str
    question: str
    segments: list[Segment]


@dataclass(frozen=True)
class RevisionChanges:
    revision: CharterRevision
    changes: list[QuestionChange]


def _tokens(text: str) -> list[str]:
    """Words and the whitespace between them, so joining the tokens gives the text back."""
    return [t for t in re.split(r"(\s+)", text or "") if t]


def _shorten(tokens: list[str], *, after_change: bool, before_change: bool) -> str:
    """Unchanged text cut down to the words next to the changes around it."""
    words = [i for i, t in enumerate(tokens) if not t.isspace()]
    if len(words) <= CONTEXT_WORDS * (int(after_change) + int(before_change)):
        return "".join(tokens)
    head = "".join(tokens[: words[CONTEXT_WORDS - 1] + 1]) if after_change else ""
    tail = "".join(tokens[words[-CONTEXT_WORDS]:]) if before_change else ""
    return " ".join(part for part in (head, ELLIPSIS, tail) if part)


def word_diff(old: str, new: str) -> list[Segment]:
    """The segments turning `old` into `new`; empty when nothing changed."""
    if (old or "") == (new or ""):
        return []
    a, b = _tokens(old), _tokens(new)
    opcodes = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    segments: list[Segment] = []
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            text = _shorten(a[i1:i2], after_change=n > 0,
                            before_change=n < len(opcodes) - 1)
            segments.append(Segment("equal", text))
            continue
        if i2 > i1:
            segments.append(Segment("delete", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("insert", "".join(b[j1:j2])))
    return segments


def changes_between(older: CharterRevision | None, newer: CharterRevision) -> list[QuestionChange]:
    """The questions whose answer differs between two revisions (all, for the first one)."""
    changes = []
    for key, question in Charter.QUESTIONS:
        before = getattr(older, key) if older is not None else ""
        segments = word_diff(before, getattr(newer, key))
        if segments:
            changes.append(QuestionChange(key, str(question), segments))
    return changes


def history_with_changes(revisions: list[CharterRevision]) -> list[RevisionChanges]:
    """Revisions newest first, each with what it changed against the one before it."""
    ordered = sorted(revisions, key=lambda r: r.version, reverse=True)
    return [
        RevisionChanges(rev, changes_between(ordered[i + 1] if i + 1 < len(ordered) else None,
                                             rev))
        for i, rev in enumerate(ordered)
    ]
