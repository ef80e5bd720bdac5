"""password reset codes (issue #18 item 1): one-time codes a union admin issues for a member

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 09:40:00.000000
"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = marketplace.models.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'password_reset_codes',
        sa.Column('id', BIGID, nullable=False),
        sa.Column('account_id', BIGID, nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('issued_by', BIGID, nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('used_at', TS, nullable=True),
        sa.Column('failed_attempts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_password_reset_codes_account_id_accounts')),
        sa.ForeignKeyConstraint(['issued_by'], ['accounts.id'],
                                name=op.f('fk_password_reset_codes_issued_by_accounts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_codes')),
    )
    op.create_index(op.f('ix_password_reset_codes_account_id'), 'password_reset_codes',
                    ['account_id'])


def downgrade():
    op.drop_index(op.f('ix_password_reset_codes_account_id'), table_name='password_reset_codes')
    op.drop_table('password_reset_codes')
