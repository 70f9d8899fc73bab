"""Full-text search over what a member may read: reflections, replies and messages.

Texts are Danish, Finnish and English, so PostgreSQL indexes them with the 'simple' text
search configuration (lower-cased words, no stemming for one language applied to the others).
The models declare one GIN expression index per body through `fulltext_index`, and the
queries match with `body_vector`: the very same expression, so PostgreSQL uses the index.
SQLite (the embedded default) has no such index and searches word by word with LIKE.
"""

from __future__ import annotations

from sqlalchemy import Index, func, text

# A literal, not a bound parameter: the query's expression must equal the index's to use it.
SEARCH_CONFIG = text("'simple'")


def body_vector(column):
    """to_tsvector('simple', body): what the GIN index holds and what a search matches."""
    return func.to_tsvector(SEARCH_CONFIG, column)


def fulltext_index(name: str, column) -> Index:
    """A GIN index on body_vector(column), created on PostgreSQL only."""
    return Index(name, body_vector(column), postgresql_using="gin").ddl_if(dialect="postgresql")
