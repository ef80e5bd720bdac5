"""campaigns.mode (first_come / queue / lottery), the waiting room's settings, lottery draws and entries

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('mode', sa.String(length=12), nullable=False, server_default='first_come')
        )
        batch_op.add_column(
            sa.Column('queue_opens_at', marketplace.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('admission_rate', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('over_admission', sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_campaigns_mode'), "mode IN ('first_come', 'queue', 'lottery')"
        )

    op.create_table('lottery_draws',
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('beacon_source', sa.String(length=40), nullable=False),
    sa.Column('beacon_round', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('beacon_value', sa.String(length=128), nullable=True),
    sa.Column('entrants_hash', sa.String(length=64), nullable=True),
    sa.Column('entrants', sa.Integer(), nullable=True),
    sa.Column('winners', sa.Integer(), nullable=True),
    sa.Column('drawn_at', marketplace.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_lottery_draws_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_lottery_draws'))
    )
    op.create_table('lottery_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket', sa.String(length=16), nullable=False),
    sa.Column('registered_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.CheckConstraint("outcome IN ('won', 'promoted', 'waiting')", name=op.f('ck_lottery_entries_outcome')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_lottery_entries_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lottery_entries'))
    )
    with op.batch_alter_table('lottery_entries', schema=None) as batch_op:
        batch_op.create_index('ix_lottery_entries_waiting', ['campaign_id', 'outcome', 'position'], unique=False)
        batch_op.create_index('uq_lottery_entries_member', ['campaign_id', 'member_id'], unique=True)
        batch_op.create_index('uq_lottery_entries_ticket', ['campaign_id', 'ticket'], unique=True)


def downgrade():
    with op.batch_alter_table('lottery_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_lottery_entries_ticket')
        batch_op.drop_index('uq_lottery_entries_member')
        batch_op.drop_index('ix_lottery_entries_waiting')
    op.drop_table('lottery_entries')
    op.drop_table('lottery_draws')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_mode'), type_='check')
        batch_op.drop_column('over_admission')
        batch_op.drop_column('admission_rate')
        batch_op.drop_column('queue_opens_at')
        batch_op.drop_column('mode')
