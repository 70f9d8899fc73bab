"""an index on reflections.edited_at

Beat's sweep embeds the reflections written or edited lately (coprod/digests/vectors.py):
created_at has its index, edited_at gets one, so the sweep reads two index ranges instead of
every reflection once a minute.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 14:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_reflections_edited_at", "reflections", ["edited_at"])


def downgrade():
    op.drop_index("ix_reflections_edited_at", table_name="reflections")
