"""search indexes without pending lists

The GIN indexes on reflections', replies' and messages' search_vector no longer use fast
update: with it, new rows wait in a pending list that every search reads through until a
vacuum merges it (at 100,000 reflections, 9 ms of every search for a rare word). What is
pending now is merged into each index.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 23:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

INDEXES = ("ix_reflections_body_fts", "ix_replies_body_fts", "ix_messages_body_fts")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
