"""voucher request ids and conflicts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))

    op.create_table('voucher_conflicts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('claim_id', sa.String(length=120), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('existing_voucher_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('detected_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('claim_id', 'code')", name=op.f('ck_voucher_conflicts_kind')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_voucher_conflicts_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['existing_voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_conflicts_existing_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_conflicts'))
    )
    with op.batch_alter_table('voucher_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_conflicts_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('uq_voucher_conflicts_claim_code', ['claim_id', 'code'], unique=True)


def downgrade():
    with op.batch_alter_table('voucher_conflicts', schema=None) as batch_op:
        batch_op.drop_index('uq_voucher_conflicts_claim_code')
        batch_op.drop_index(batch_op.f('ix_voucher_conflicts_campaign_id'))

    op.drop_table('voucher_conflicts')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_column('request_id')
