"""lottery weights, confirmation deadlines and hand-ons (issue #14 items 3: the rest): entry
outcome ``excluded`` (over quota or barred at the draw), the entry's weight, reason and
confirmation times; the sale's weight settings, confirmation hours and hand-on window; the
member's hardship flag

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:30:00.000000
"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TS = marketplace.models.UTCDateTime(timezone=True)


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hardship_weight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('loss_weight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('loss_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('loss_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('confirm_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('handon_until', TS, nullable=True))
    with op.batch_alter_table('lottery_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weight', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('won_at', TS, nullable=True))
        batch_op.add_column(sa.Column('confirm_by', TS, nullable=True))
        batch_op.add_column(sa.Column('confirmed_at', TS, nullable=True))
        batch_op.add_column(sa.Column('passed_at', TS, nullable=True))
        batch_op.drop_constraint(op.f('ck_lottery_entries_outcome'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_lottery_entries_outcome'),
            "outcome IN ('won', 'promoted', 'waiting', 'excluded')",
        )
        batch_op.create_index('ix_lottery_entries_confirm_by', ['confirm_by'], unique=False)
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('hardship', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('hardship')
    op.execute("DELETE FROM lottery_entries WHERE outcome = 'excluded'")
    with op.batch_alter_table('lottery_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_lottery_entries_confirm_by')
        batch_op.drop_constraint(op.f('ck_lottery_entries_outcome'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_lottery_entries_outcome'), "outcome IN ('won', 'promoted', 'waiting')"
        )
        for name in ('passed_at', 'confirmed_at', 'confirm_by', 'won_at', 'reason', 'weight'):
            batch_op.drop_column(name)
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        for name in ('handon_until', 'confirm_hours', 'loss_cap', 'loss_days', 'loss_weight',
                     'hardship_weight'):
            batch_op.drop_column(name)
