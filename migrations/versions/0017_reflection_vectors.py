"""reflection vectors

reflection_vectors: each reflection's sentence vector per embedding model, with the SHA-256 of
the text it was computed from, so that digest builds embed a reflection once, across worker
restarts (issue 13). Rows go with the reflection (ON DELETE CASCADE) and are deleted when its
text is withdrawn, edited or redacted (coprod/digests/vectors.py). Empty at first: the next
digest build fills it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 13:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import coprod.common


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reflection_vectors',
        sa.Column('reflection_id', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=40), nullable=False),
        sa.Column('text_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', coprod.common.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['reflection_id'], ['reflections.id'],
                                name=op.f('fk_reflection_vectors_reflection_id_reflections'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('reflection_id', 'model', name=op.f('pk_reflection_vectors')),
    )


def downgrade():
    op.drop_table('reflection_vectors')
