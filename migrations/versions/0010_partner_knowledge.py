"""partner knowledge: what a partner may know of a citizen, kept for the SQL filters

One row per (consent, partner, category) of a permitting consent nothing replaced, of a
citizen not erased, where the partner has a need to know by the service map; the consent's
period is copied so that a filter asks for rows covering now. coprod/policy/knowledge.py
recomputes the rows in every flush that changes what they are made of; this migration fills
them from the rows already there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import coprod.common


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps doing what it did when the code moves on.
BACKFILL = """
INSERT INTO partner_knowledge (consent_id, citizen_id, partner_id, category_id, starts_at,
                               ends_at)
SELECT c.id, c.citizen_id, cp.partner_id, cc.category_id, c.starts_at, c.ends_at
FROM consents c
JOIN consent_partners cp ON cp.consent_id = c.id
JOIN consent_categories cc ON cc.consent_id = c.id
JOIN citizens z ON z.id = c.citizen_id
JOIN partners p ON p.id = cp.partner_id
WHERE c.status = 'permit'
  AND NOT EXISTS (SELECT 1 FROM consents later WHERE later.replaces_id = c.id)
  AND z.erased_at IS NULL
  AND p.collaboration_id = z.collaboration_id
  AND (EXISTS (SELECT 1 FROM citizen_activities ca
               JOIN activity_performers ap ON ap.activity_id = ca.activity_id
               WHERE ca.citizen_id = c.citizen_id AND ap.partner_id = cp.partner_id)
       OR EXISTS (SELECT 1 FROM citizen_activities ca
                  JOIN information_flows f ON f.activity_id = ca.activity_id
                  JOIN information_flow_categories fc ON fc.flow_id = f.id
                  WHERE ca.citizen_id = c.citizen_id AND f.to_partner_id = cp.partner_id
                    AND fc.category_id = cc.category_id))
"""


def upgrade():
    op.create_table('partner_knowledge',
    sa.Column('consent_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', coprod.common.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', coprod.common.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['category_id'], ['information_categories.id'], name=op.f('fk_partner_knowledge_category_id_information_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_partner_knowledge_citizen_id_citizens'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['consent_id'], ['consents.id'], name=op.f('fk_partner_knowledge_consent_id_consents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_knowledge_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('consent_id', 'partner_id', 'category_id', name=op.f('pk_partner_knowledge'))
    )
    with op.batch_alter_table('partner_knowledge', schema=None) as batch_op:
        batch_op.create_index('ix_partner_knowledge_partner', ['partner_id', 'citizen_id'], unique=False)
        batch_op.create_index('ix_partner_knowledge_reach', ['citizen_id', 'category_id', 'partner_id'], unique=False)
    op.execute(BACKFILL)


def downgrade():
    with op.batch_alter_table('partner_knowledge', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_knowledge_reach')
        batch_op.drop_index('ix_partner_knowledge_partner')
    op.drop_table('partner_knowledge')
