"""Full-text search over what a member may read: reflections, replies and messages.

Each text is searched in its own language. Reflections, replies and messages carry a
`language` (two letters: 'en', 'da', 'fi', or another code), taken from the author's locale
when the row is inserted (`fulltext_index` sets it in the INSERT itself, from users.locale,
or from the author the writer's session already holds, whoever writes the row: an operation,
the demo or a test's factory; migration 0009 backfilled older rows the same way). It never
changes afterwards, like the text's authorship.

PostgreSQL keeps `body_vector(language, body)` in a stored generated column, search_vector
(migration 0011; not mapped, as SQLite has no such column), and a GIN index on it:
to_tsvector with the text search configuration of the text's language,
coprod_search_config(language): coprod_english, coprod_danish, coprod_finnish (each the
language's Snowball stemmer after `unaccent`) or coprod_simple for any other language
(unaccented, not stemmed); so "morning" finds "mornings", "borger" finds "borgerne" and
"yhteistyö" finds "yhteistyössä", and "cafe" finds "café". The models declare one GIN index
per body through `fulltext_index`; the queries match and rank with the stored column
(`search_vector(model)`), so PostgreSQL uses the index and ts_rank reads the stored vector
instead of parsing each matching body again.

SQLite (the embedded default) keeps one FTS5 table per searchable table (`<table>_fts`,
external content, rowid = the row's id, tokenizer `unicode61 remove_diacritics 2`), kept in
step by triggers that migration 0009 created; see coprod/search/queries.py for how a query is
matched there. A later migration that rebuilds one of these tables on SQLite (a batch
operation copies, drops and renames it) drops its triggers and must create them again, as
0009 does.
"""

from __future__ import annotations

from sqlalchemy import Index, column, event, func, literal_column, select, table, text
from sqlalchemy.orm import object_session

# language code -> the text search configuration its texts are indexed and queried with.
CONFIGS = {"en": "coprod_english", "da": "coprod_danish", "fi": "coprod_finnish"}
OTHER_CONFIG = "coprod_simple"  # any other language: lower-cased, unaccented, not stemmed
SEARCHABLE_TABLES = ("reflections", "replies", "messages")

_users = table("users", column("id"), column("locale"))


def config_of(code: str):
    """The configuration of a language code, as a literal (the index's expression must
    equal the query's, so no bound parameter)."""
    return literal_column(f"'{CONFIGS.get(code, OTHER_CONFIG)}'::regconfig")


def body_vector(language, body):
    """to_tsvector(coprod_search_config(language), body): what the GIN index holds and what
    a search matches. coprod_search_config (migration 0009) is CONFIGS in SQL: an IMMUTABLE
    function, so that an index may use it."""
    return func.to_tsvector(func.coprod_search_config(language), body)


SEARCH_VECTOR = "search_vector"


def search_vector(model):
    """The stored body_vector of a searchable model's row (PostgreSQL only)."""
    return literal_column(f"{model.__tablename__}.{SEARCH_VECTOR}")


def is_search_vector(name: str, type_: str, parent_table: str | None) -> bool:
    """The stored vector column and its GIN index, made by migration 0011 on PostgreSQL: the
    models cannot name a column they do not map, so schema comparisons leave them out."""
    if type_ == "index":
        return name in {f"ix_{table}_body_fts" for table in SEARCHABLE_TABLES}
    return type_ == "column" and name == SEARCH_VECTOR and parent_table in SEARCHABLE_TABLES


def fulltext_index(name: str, model) -> Index:
    """A GIN index on the stored search_vector, created on PostgreSQL only; and the language
    of every inserted row taken from its author's locale.

    Without GIN's fast update: with it, new rows wait in a pending list that every search
    reads through, row by row, until a vacuum merges it (at 100,000 reflections a search for
    a word in no text took 9 ms, 0.06 ms once merged); an insert adding its few words to
    the index at once costs less than that."""
    event.listen(model, "before_insert", _set_language)
    return Index(name, text(SEARCH_VECTOR), postgresql_using="gin",
                 postgresql_with={"fastupdate": "off"}).ddl_if(dialect="postgresql")


def authors_language(author_id):
    """The author's locale's language ('en' of 'en_GB'), '' when unknown; SQL."""
    locale = select(func.substr(func.lower(_users.c.locale), 1, 2)).where(
        _users.c.id == author_id).scalar_subquery()
    return func.coalesce(locale, text("''"))


def language_of(locale: str | None) -> str:
    """authors_language() in Python: 'en' of 'en_GB', '' when unknown."""
    return (locale or "")[:2].lower()


def _set_language(mapper, connection, target) -> None:
    """In the INSERT itself (no query of its own), unless the writer said: from the author's
    locale when the writer's session holds the author loaded (an operation's actor, who is
    signed in), else read by the INSERT from users. A plain value keeps the INSERT's SQL the
    same every time (an expression in it is composed and walked for the statement cache's key
    anew at each insert, and read back): a post's INSERT cost half again as much."""
    if target.language is None:
        target.language = language_for(object_session(target), target.author_id)


def language_for(session, author_id: int):
    """The language of a text `author_id` writes now: a plain value from the author's locale
    when `session` holds the author loaded or the request's reader is the author, else
    authors_language() for the INSERT to read. Also for a row inserted without the ORM's
    objects (which fires no before_insert)."""
    locale = _loaded_locale(session, author_id)
    return language_of(locale) if locale is not _NOT_LOADED else authors_language(author_id)


_NOT_LOADED = object()


def _loaded_locale(session, author_id: int):
    """The author's locale as the session holds it, or the request's reader (a PageReader)
    if that is the author, without a query; _NOT_LOADED when neither holds it (an author not
    in the session, or whose attributes are expired after a commit)."""
    from coprod.accounts.models import User

    if session is None:
        return _NOT_LOADED
    author = session.identity_map.get(session.identity_key(User, author_id))
    if author is None:
        from coprod.accounts.sessions import reader_locale

        return reader_locale(author_id) or _NOT_LOADED
    return author.__dict__.get("locale", _NOT_LOADED)


# -- SQLite: FTS5 tables, created with their triggers by migration 0009 ---------------------

def fts_table(name: str) -> str:
    """The FTS5 table of a searchable table: reflections_fts, replies_fts, messages_fts."""
    return f"{name}_fts"


def is_fts_table(name: str) -> bool:
    """An FTS5 table of SQLite's search or one of its shadow tables (not in the models)."""
    return any(name == fts_table(t) or name.startswith(fts_table(t) + "_")
               for t in SEARCHABLE_TABLES)
