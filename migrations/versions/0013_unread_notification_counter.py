"""unread notification counter

users.unread_notifications: how many of the user's notifications are unread, kept by the
operations that create and read notifications (coprod/notifications/operations.py), in the
same transaction; backfilled here. The header's badge reads it from the logged-in user's row
and asks no query while it is 0. ix_notifications_user_id_read_at finds a user's unread
notifications when it is not.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("unread_notifications", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.create_index("ix_notifications_user_id_read_at", "notifications",
                    ["user_id", "read_at"])
    op.execute("UPDATE users SET unread_notifications = (SELECT count(*) FROM notifications "
               "WHERE notifications.user_id = users.id AND notifications.read_at IS NULL)")


def downgrade():
    op.drop_index("ix_notifications_user_id_read_at", table_name="notifications")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("unread_notifications")
