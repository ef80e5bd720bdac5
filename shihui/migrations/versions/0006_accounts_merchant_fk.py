"""accounts.merchant_id references merchants

The column predates the merchants table (the identity layer came first), so it was a plain
integer. No code deletes merchants and every staff account is created after its merchant, so a
live database has no orphans; should one have any, the upgrade stops and names them rather than
guessing which merchant they belonged to.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:40:00

"""
from alembic import context, op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "fk_accounts_merchant_id_merchants"


def upgrade():
    if context.is_offline_mode():  # `shihui db upgrade --sql`: no data to check
        _add_foreign_key()
        return
    orphans = op.get_bind().execute(sa.text(
        "SELECT id, username, merchant_id FROM accounts WHERE merchant_id IS NOT NULL "
        "AND merchant_id NOT IN (SELECT id FROM merchants) ORDER BY id LIMIT 20"
    )).all()
    if orphans:
        listed = ", ".join(f"{row.username} (id {row.id}) -> merchant {row.merchant_id}"
                           for row in orphans)
        raise RuntimeError(
            "accounts reference merchants that do not exist; fix or clear their merchant_id, "
            f"then upgrade again: {listed}"
        )
    _add_foreign_key()


def _add_foreign_key():
    if op.get_context().dialect.name == "postgresql":
        # NOT VALID (a brief lock; new rows are checked from now on), committed, then VALIDATE
        # in its own transaction: the scan of existing rows runs under a lock that lets logins
        # and staff changes go on, so the upgrade can run while the platform serves.
        op.create_foreign_key(NAME, "accounts", "merchants", ["merchant_id"], ["id"],
                              postgresql_not_valid=True)
        with op.get_context().autocommit_block():
            op.execute(f"ALTER TABLE accounts VALIDATE CONSTRAINT {NAME}")
        return
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_foreign_key(NAME, "merchants", ["merchant_id"], ["id"])


def downgrade():
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="foreignkey")
