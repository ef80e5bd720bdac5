"""campaigns.mode (first_come / queue / lottery) and the waiting room's settings

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 02:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
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


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_mode'), type_='check')
        batch_op.drop_column('over_admission')
        batch_op.drop_column('admission_rate')
        batch_op.drop_column('queue_opens_at')
        batch_op.drop_column('mode')
