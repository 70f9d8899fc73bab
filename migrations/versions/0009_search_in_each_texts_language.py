"""search in each text's language

Reflections, replies and messages get a `language` (the author's locale's, backfilled here).
PostgreSQL: text search configurations coprod_english, coprod_danish, coprod_finnish (the
language's stemmer after unaccent) and coprod_simple (unaccent only), the IMMUTABLE function
coprod_search_config(language) choosing one, and the GIN indexes ix_*_body_fts rebuilt on
to_tsvector(coprod_search_config(language), body). SQLite: an FTS5 table
per searchable table (<table>_fts) with the triggers that keep it in step, filled from the
rows already there. Each database skips what is the other's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps doing what it did when the code moves on.
TABLES = ("reflections", "replies", "messages")
CONFIGS = {"coprod_english": "english_stem", "coprod_danish": "danish_stem",
           "coprod_finnish": "finnish_stem", "coprod_simple": "simple"}
LANGUAGES = {"en": "coprod_english", "da": "coprod_danish", "fi": "coprod_finnish"}
VECTOR = "to_tsvector(coprod_search_config(language), body)"


def create_config_function(schema: str) -> None:
    """A language's configuration, IMMUTABLE so that an index may use it; the names are
    qualified, for a restore runs index builds with an empty search_path."""
    whens = " ".join(f"WHEN '{code}' THEN '{schema}.{name}'::regconfig"
                     for code, name in LANGUAGES.items())
    op.execute("CREATE FUNCTION coprod_search_config(language varchar) RETURNS regconfig "
               "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
               f"AS $$ SELECT CASE language {whens} "
               f"ELSE '{schema}.coprod_simple'::regconfig END $$")
TOKENIZER = "unicode61 remove_diacritics 2"


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column('language', sa.String(length=8), server_default='',
                                       nullable=False))
        op.execute(f"UPDATE {table} SET language = COALESCE((SELECT substr(lower(locale), 1, 2) "
                   f"FROM users WHERE users.id = {table}.author_id), '')")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        for name, dictionary in CONFIGS.items():
            source = "simple" if dictionary == "simple" else dictionary.removesuffix("_stem")
            op.execute(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {source})")
            op.execute(f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR "
                       f"hword, hword_part, word WITH unaccent, {dictionary}")
        create_config_function(op.get_bind().scalar(sa.text("SELECT current_schema()")))
        for table in TABLES:
            op.drop_index(f"ix_{table}_body_fts", table_name=table)
            op.create_index(f"ix_{table}_body_fts", table, [sa.text(VECTOR)],
                            postgresql_using="gin")
    elif op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            fts = f"{table}_fts"
            insert = f"INSERT INTO {fts}(rowid, body) VALUES (new.id, new.body);"
            delete = (f"INSERT INTO {fts}({fts}, rowid, body) "
                      f"VALUES ('delete', old.id, old.body);")
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5(body, content='{table}', "
                       f"content_rowid='id', tokenize='{TOKENIZER}')")
            op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} "
                       f"BEGIN {insert} END")
            op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} "
                       f"BEGIN {delete} END")
            op.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF body ON {table} "
                       f"BEGIN {delete} {insert} END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.drop_index(f"ix_{table}_body_fts", table_name=table)
            op.create_index(f"ix_{table}_body_fts", table,
                            [sa.text("to_tsvector('simple', body)")], postgresql_using="gin")
        op.execute("DROP FUNCTION coprod_search_config(varchar)")
        for name in CONFIGS:
            op.execute(f"DROP TEXT SEARCH CONFIGURATION {name}")
        # unaccent stays: another schema object may have come to use it since.
    elif op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            fts = f"{table}_fts"
            for what in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER {fts}_{what}")
            op.execute(f"DROP TABLE {fts}")

    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('language')
