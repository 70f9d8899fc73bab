"""page epoch

page_epoch: one row whose token changes in every transaction that writes something a cached
page shows (coprod/pagecache.py): the feed, a reflection's page and the API's list are
answered from a worker's memory while the token, the reader and the next consent boundary
stay the same (issue 12).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 16:20:00.000000

"""
import secrets
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa

import coprod.common


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'page_epoch',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', coprod.common.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_page_epoch')),
    )
    op.bulk_insert(table, [{"id": 1, "token": secrets.randbits(62),
                            "changed_at": datetime.now(UTC)}])
    # The next consent period to start or end, read with the token on every kept page.
    op.create_index('ix_consents_starts_at', 'consents', ['starts_at'])
    op.create_index('ix_consents_ends_at', 'consents', ['ends_at'])


def downgrade():
    op.drop_index('ix_consents_ends_at', table_name='consents')
    op.drop_index('ix_consents_starts_at', table_name='consents')
    op.drop_table('page_epoch')
