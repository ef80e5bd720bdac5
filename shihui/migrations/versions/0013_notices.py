"""notices (issue #16 items 5-6): system notices in the member's inbox, their preferences,
"remind me" reminders

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30 05:20:00.000000

Chained after 0011 on this branch; another branch adds 0012 (the lead re-chains at merge).
"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = marketplace.models.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'notices',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('member_id', BIGID, nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('key', sa.String(length=100), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('read_at', TS, nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_notices_member_id_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
        sa.UniqueConstraint('member_id', 'key', name='uq_notices_member_key'),
    )
    op.create_index('ix_notices_member_id_id', 'notices', ['member_id', 'id'])
    op.create_table(
        'notice_preferences',
        sa.Column('member_id', BIGID, nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('inbox', sa.Boolean(), nullable=False),
        sa.Column('outbound', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_notice_preferences_member_id_members')),
        sa.PrimaryKeyConstraint('member_id', 'category', name=op.f('pk_notice_preferences')),
    )
    op.create_table(
        'reminders',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('member_id', BIGID, nullable=False),
        sa.Column('subject_kind', sa.String(length=20), nullable=False),
        sa.Column('subject_id', BIGID, nullable=False),
        sa.Column('remind_at', TS, nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'cancelled')",
                           name=op.f('ck_reminders_status')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_reminders_member_id_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders')),
        sa.UniqueConstraint('member_id', 'subject_kind', 'subject_id',
                            name='uq_reminders_member'),
    )
    op.create_index('ix_reminders_subject', 'reminders', ['subject_kind', 'subject_id', 'status'])


def downgrade():
    op.drop_index('ix_reminders_subject', table_name='reminders')
    op.drop_table('reminders')
    op.drop_table('notice_preferences')
    op.drop_index('ix_notices_member_id_id', table_name='notices')
    op.drop_table('notices')
