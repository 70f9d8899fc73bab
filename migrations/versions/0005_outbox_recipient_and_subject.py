"""outbox recipient and subject

An email about content names its recipient and what it is about ("reflection:12"), so the
worker re-checks at send time that the recipient may still read it; if not, the row becomes
"cancelled" (a new status: the CHECK of the status column is replaced by hand, and a
downgrade turns cancelled rows into failed ones).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 15:17:42.157047

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


STATUS_CHECK = "ck_outbox_emails_outbox_status"
STATUSES = ("pending", "sent", "failed")


def _status_check(batch_op, statuses):
    batch_op.drop_constraint(op.f(STATUS_CHECK), type_="check")
    batch_op.create_check_constraint(op.f(STATUS_CHECK), sa.column("status").in_(statuses))


def upgrade():
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('about', sa.String(length=60), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_emails_recipient_id_users'), 'users', ['recipient_id'], ['id'], ondelete='SET NULL')
        _status_check(batch_op, (*STATUSES, "cancelled"))


def downgrade():
    op.execute("UPDATE outbox_emails SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        _status_check(batch_op, STATUSES)
        batch_op.drop_constraint(batch_op.f('fk_outbox_emails_recipient_id_users'), type_='foreignkey')
        batch_op.drop_column('about')
        batch_op.drop_column('recipient_id')
