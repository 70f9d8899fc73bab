"""Reflections' sentence vectors kept in the database, so a digest build embeds each reflection
once, whatever worker builds it and however often workers restart.

Embedding is the costly part of grouping themes (multilingual-e5-small embeds some 40 texts a
second on two cores: 3,000 reflections take over a minute; grouping them afterwards takes
seconds). A vector is stored with the SHA-256 of the text it was computed from: when the
reflection's text changes, the stored vector no longer matches and the text is embedded again.

A vector is derived from what a person wrote, so it must not outlive the text: it is deleted
when the reflection is withdrawn, edited or redacted by a citizen's erasure (forget()), and
with the reflection itself (the foreign key cascades). Vectors are only ever made of
reflections that may be grouped into themes, i.e. that reference no citizen (build.py).

A reflection is embedded within a minute or so of being written or edited: beat's sweep
(embed_recent, every RECENT_SWEEP_SECONDS) embeds the reflections written or edited in the
last RECENT that lack a vector. Posting costs nothing for it (a task published per post was a
twelfth of a post's work), a burst of posts is embedded in batches, and nothing is lost while
the workers are down: the sweep catches up within RECENT, and the next digest build embeds
whatever it still finds without a vector.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, or_, select

from coprod.common import utcnow
from coprod.digests.models import ReflectionVector
from coprod.extensions import db
from coprod.reflections.models import Reflection

log = logging.getLogger(__name__)
RECENT = timedelta(days=1)  # how far back the sweep looks for reflections without a vector
RECENT_SWEEP_SECONDS = 60.0
SWEEP_BATCH = 500  # reflections one sweep embeds at most (some 15 s on two cores)


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class ReflectionVectors:
    """The vector store of themes._embedded for a list of (reflection id, text): vectors are
    looked up by text (a text written twice is embedded once) and saved for every reflection
    that holds the text."""

    def __init__(self, reflections: Iterable[tuple[int, str]]):
        self.ids_of: dict[str, list[int]] = defaultdict(list)
        for reflection_id, text in reflections:
            self.ids_of[text].append(reflection_id)
        self.loaded = 0
        self.saved = 0

    def load(self, model: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """The stored vector of each text, None where there is none or it is of another text."""
        wanted = {reflection_id: text_hash(text) for text in set(texts)
                  for reflection_id in self.ids_of.get(text, [])}
        by_hash: dict[bytes, np.ndarray] = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), 5000):
            for reflection_id, digest, vector in db.session.execute(
                    select(ReflectionVector.reflection_id, ReflectionVector.text_hash,
                           ReflectionVector.vector)
                    .where(ReflectionVector.model == model,
                           ReflectionVector.reflection_id.in_(ids[start:start + 5000]))):
                if bytes(digest) == wanted[reflection_id]:
                    by_hash[bytes(digest)] = np.frombuffer(bytes(vector), dtype="<f4")
        found = [by_hash.get(text_hash(text)) for text in texts]
        self.loaded += sum(v is not None for v in found)
        return found

    def save(self, model: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store each text's vector for every reflection still holding it, replacing a stale
        one.

        Embedding takes a while: a reflection may have been withdrawn or edited since its
        text was read. Its row is locked and its text read again first (ordered by id, so two
        builds lock in one order), and a vector is saved only for the text it now holds. A
        withdrawal or edit that comes later waits for the lock, then deletes the row (forget()
        runs after its own update)."""
        vector_of = {text_hash(t): np.asarray(v, dtype="<f4").tobytes()
                     for t, v in zip(texts, vectors, strict=True)}
        ids = sorted({i for t in texts for i in self.ids_of.get(t, [])})
        rows = []
        for start in range(0, len(ids), 5000):
            for reflection_id, body in db.session.execute(
                    select(Reflection.id, Reflection.body)
                    .where(Reflection.id.in_(ids[start:start + 5000]),
                           Reflection.withdrawn_at.is_(None))
                    .order_by(Reflection.id).with_for_update()):
                digest = text_hash(body)
                if digest in vector_of:
                    rows.append({"reflection_id": reflection_id, "model": model,
                                 "text_hash": digest, "vector": vector_of[digest],
                                 "created_at": utcnow()})
        if rows:
            upsert(rows)
            self.saved += len(rows)


def upsert(rows: list[dict]) -> None:
    """Insert or replace rows. Two builds of one collaboration may save the same reflection's
    vector at once: the later one replaces the row (the same vector) instead of failing the
    build with a duplicate key."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    for start in range(0, len(rows), 1000):
        stmt = insert(ReflectionVector).values(rows[start:start + 1000])
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["reflection_id", "model"],
            set_={"text_hash": stmt.excluded.text_hash, "vector": stmt.excluded.vector,
                  "created_at": stmt.excluded.created_at}))


def forget(reflection_ids: Iterable[int]) -> None:
    """Delete the vectors of these reflections (their text was withdrawn, changed or
    redacted): what was derived from a text goes with it. Call it after the change is
    flushed: the update waits for a build saving a vector of the old text (its row lock in
    ReflectionVectors.save), and this delete, run after it, then sees that vector."""
    ids = sorted(set(reflection_ids))
    if ids:
        db.session.execute(delete(ReflectionVector).where(
            ReflectionVector.reflection_id.in_(ids)))


# -- embedding what was written lately -------------------------------------------------------


def recently_written(now: datetime, limit: int = SWEEP_BATCH) -> list[tuple[int, str]]:
    """(id, text) of the reflections written or edited since `now - RECENT` that a digest may
    group (not withdrawn, about no citizen) and have no vector: oldest first, at most `limit`
    (two index ranges, created_at and edited_at, and the vectors' key)."""
    from coprod.citizens.models import CitizenReference

    since = now - RECENT
    has_vector = select(ReflectionVector.reflection_id).where(
        ReflectionVector.reflection_id == Reflection.id).exists()
    about_a_citizen = select(CitizenReference.id).where(
        CitizenReference.reflection_id == Reflection.id).exists()
    return [tuple(row) for row in db.session.execute(
        select(Reflection.id, Reflection.body)
        .where(or_(Reflection.created_at >= since, Reflection.edited_at >= since),
               Reflection.withdrawn_at.is_(None), ~has_vector, ~about_a_citizen)
        .order_by(Reflection.id).limit(limit))]


def embed_recent(now: datetime | None = None) -> int:
    """Beat's sweep: embed what was written or edited lately and has no vector yet, so the
    next digest build finds it stored. Returns how many texts were embedded; nothing when the
    model cannot load here (the build falls back to words then)."""
    from coprod.digests import themes

    rows = recently_written(now or utcnow())
    texts = [body for _id, body in rows if themes.WORD.search(body or "")]
    if not texts:
        return 0
    return themes.store_vectors(texts, ReflectionVectors(rows))
