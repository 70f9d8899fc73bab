"""administrators, server-side sessions, bulk invitations

users.is_admin (installation administrators); user_sessions (one row per log-in: ended
server-side, listed on the profile); installation_settings and
collaboration_creator_organizations (who may start a collaboration, changed in /admin);
invitation_batches (uploaded CSVs: preview, then sent once) and invitations.name. Log-in
cookies made before this revision name no session row: everyone logs in again once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:44:47.990326

"""
from alembic import op
import sqlalchemy as sa

import coprod.common


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('installation_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collaboration_creators', sa.Enum('staff', 'organizations', 'administrators', name='collaboration_creators', native_enum=False, create_constraint=True, length=32), server_default='staff', nullable=False),
    sa.Column('updated_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_installation_settings_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installation_settings'))
    )
    op.create_table('invitation_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collaboration_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('rows_json', sa.Text(), nullable=False),
    sa.Column('sent_at', coprod.common.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_json', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['collaboration_id'], ['collaborations.id'], name=op.f('fk_invitation_batches_collaboration_id_collaborations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitation_batches_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_batches'))
    )
    with op.batch_alter_table('invitation_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_batches_collaboration_id'), ['collaboration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitation_batches_created_at'), ['created_at'], unique=False)

    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('user_agent', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_user_sessions_secret_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('collaboration_creator_organizations',
    sa.Column('settings_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_collaboration_creator_organizations_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['settings_id'], ['installation_settings.id'], name=op.f('fk_collaboration_creator_organizations_settings_id_installation_settings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('settings_id', 'organization_id', name=op.f('pk_collaboration_creator_organizations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=120), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_admin')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('name')

    op.drop_table('collaboration_creator_organizations')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
    with op.batch_alter_table('invitation_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_batches_created_at'))
        batch_op.drop_index(batch_op.f('ix_invitation_batches_collaboration_id'))

    op.drop_table('invitation_batches')
    op.drop_table('installation_settings')
