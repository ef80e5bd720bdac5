"""campaigns.retired_at: the sale's Redis pool was deleted after its audit passed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('retired_at', marketplace.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
