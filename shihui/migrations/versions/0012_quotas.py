"""quotas (issue #14 item 4): union rules across sales (monthly ticket quotas, no-show limits)
and the no-show bans they impose; the fairness figures published after a sale (item 5)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:30:00.000000
"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'sale_rules',
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('monthly_limit', sa.Integer(), nullable=True),
        sa.Column('no_show_limit', sa.Integer(), nullable=True),
        sa.Column('no_show_window_days', sa.Integer(), nullable=False),
        sa.Column('ban_days', sa.Integer(), nullable=True),
        sa.Column('updated_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', BIG, nullable=True),
        sa.PrimaryKeyConstraint('scope'),
    )
    op.create_table(
        'no_show_bans',
        sa.Column('id', BIG, nullable=False),
        sa.Column('member_id', BIG, nullable=False),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('no_shows', sa.Integer(), nullable=False),
        sa.Column('created_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('until', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('lifted_at', marketplace.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('lifted_by', BIG, nullable=True),
        sa.Column('lift_reason', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_no_show_bans_member', 'no_show_bans', ['member_id', 'scope'])
    op.create_table(
        'sale_fairness',
        sa.Column('campaign_id', BIG, nullable=False),
        sa.Column('published_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.PrimaryKeyConstraint('campaign_id'),
    )


def downgrade():
    op.drop_table('sale_fairness')
    op.drop_index('ix_no_show_bans_member', table_name='no_show_bans')
    op.drop_table('no_show_bans')
    op.drop_table('sale_rules')
