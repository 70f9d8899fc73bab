"""idempotency answers name their object

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:15:00.000000

A kept answer names the object its request created, so that a replay is read through the
policy as that object is now (withdrawn, or no longer the caller's to read: not replayed).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_type', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_column('subject_id')
        batch_op.drop_column('subject_type')
