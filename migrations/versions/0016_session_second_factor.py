"""session second factor

user_sessions.second_factor: the factor a log-in passed beyond the first ("totp", or "idp"
when the identity provider vouched for one), kept on the server-side log-in row so that
accounts/twofactor.py reads it there (issue 15: sessions and two-factor merged). Log-ins open
before this revision have none: whoever must have a second factor is asked for it once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_factor', sa.String(length=16), nullable=True))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('second_factor')
