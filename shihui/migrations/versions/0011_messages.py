"""messages (issue #16): union organisations (orgs tree, members.org_id, accounts.org_id, the
branch_admin role), announcements with their read markers, conversations

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 02:30:00.000000

Existing members are attached to the tree by ``shihui orgs seed`` (new roster imports attach
their rows as they insert them).
"""
from alembic import op
import sqlalchemy as sa

import marketplace.models  # noqa: F401  (custom column types)


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('member', 'merchant_owner', 'merchant_clerk', 'admin')"
NEW_ROLES = "role IN ('member', 'merchant_owner', 'merchant_clerk', 'admin', 'branch_admin')"


def upgrade():
    op.create_table(
        'orgs',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('region', sa.String(length=6), nullable=True),
        sa.Column('path', sa.String(length=255), nullable=False),
        sa.Column('created_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('city', 'district', 'branch')", name=op.f('ck_orgs_kind')),
        sa.ForeignKeyConstraint(['parent_id'], ['orgs.id'], name=op.f('fk_orgs_parent_id_orgs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_orgs')),
        sa.UniqueConstraint('parent_id', 'name', name='uq_orgs_parent_name'),
    )
    op.create_index('ix_orgs_path', 'orgs', ['path'])
    op.create_index('ix_orgs_region', 'orgs', ['region'])
    op.create_index(op.f('ix_orgs_parent_id'), 'orgs', ['parent_id'])
    op.create_index('uq_orgs_one_city', 'orgs', ['kind'], unique=True,
                    sqlite_where=sa.text("kind = 'city'"),
                    postgresql_where=sa.text("kind = 'city'"))
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_members_org_id'), ['org_id'])
        batch_op.create_foreign_key(batch_op.f('fk_members_org_id_orgs'), 'orgs', ['org_id'], ['id'])
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_accounts_org_id'), ['org_id'])
        batch_op.create_foreign_key(batch_op.f('fk_accounts_org_id_orgs'), 'orgs', ['org_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', NEW_ROLES)
        batch_op.create_check_constraint('branch_admin_org', "role <> 'branch_admin' OR org_id IS NOT NULL")
    big = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table(
        'announcements',
        sa.Column('id', big, nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body_md', sa.Text(), nullable=False),
        sa.Column('body_html', sa.Text(), nullable=False),
        sa.Column('audience', sa.String(length=10), nullable=False),
        sa.Column('audience_org_id', big, nullable=True),
        sa.Column('audience_region', sa.String(length=6), nullable=True),
        sa.Column('audience_key', sa.String(length=40), nullable=False),
        sa.Column('activated_only', sa.Boolean(), nullable=False),
        sa.Column('link_kind', sa.String(length=10), nullable=True),
        sa.Column('link_id', big, nullable=True),
        sa.Column('cover_type', sa.String(length=20), nullable=True),
        sa.Column('cover', sa.LargeBinary(), nullable=True),
        sa.Column('author_id', big, nullable=True),
        sa.Column('author_org_id', big, nullable=False),
        sa.Column('publish_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', marketplace.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("audience IN ('all', 'org', 'region')", name=op.f('ck_announcements_audience')),
        sa.CheckConstraint("link_kind IS NULL OR link_kind IN ('sale', 'offer', 'groupbuy')", name=op.f('ck_announcements_link_kind')),
        sa.ForeignKeyConstraint(['audience_org_id'], ['orgs.id'], name=op.f('fk_announcements_audience_org_id_orgs')),
        sa.ForeignKeyConstraint(['author_id'], ['accounts.id'], name=op.f('fk_announcements_author_id_accounts')),
        sa.ForeignKeyConstraint(['author_org_id'], ['orgs.id'], name=op.f('fk_announcements_author_org_id_orgs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_announcements')),
    )
    op.create_index('ix_announcements_audience_key_publish_at', 'announcements', ['audience_key', 'publish_at'])
    op.create_index('ix_announcements_author_org_id', 'announcements', ['author_org_id'])
    op.create_table(
        'announcement_reads',
        sa.Column('member_id', big, nullable=False),
        sa.Column('announcement_id', big, nullable=False),
        sa.Column('read_at', marketplace.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_announcement_reads_announcement_id_announcements'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_announcement_reads_member_id_members')),
        sa.PrimaryKeyConstraint('member_id', 'announcement_id', name=op.f('pk_announcement_reads')),
    )
    op.create_index('ix_announcement_reads_announcement_id', 'announcement_reads', ['announcement_id'])
    dt = marketplace.models.UTCDateTime(timezone=True)
    op.create_table(
        'conversations',
        sa.Column('id', big, nullable=False),
        sa.Column('member_id', big, nullable=False),
        sa.Column('org_id', big, nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('assignee_id', big, nullable=True),
        sa.Column('staff_unread', sa.Integer(), nullable=False),
        sa.Column('member_unread', sa.Integer(), nullable=False),
        sa.Column('waiting_since', dt, nullable=True),
        sa.Column('last_message_at', dt, nullable=False),
        sa.Column('created_at', dt, nullable=False),
        sa.Column('closed_at', dt, nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_conversations_status')),
        sa.ForeignKeyConstraint(['assignee_id'], ['accounts.id'], name=op.f('fk_conversations_assignee_id_accounts')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_conversations_member_id_members')),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_conversations_org_id_orgs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
    )
    op.create_index('ix_conversations_org_status_last', 'conversations', ['org_id', 'status', 'last_message_at'])
    op.create_index('ix_conversations_member_last', 'conversations', ['member_id', 'last_message_at'])
    op.create_table(
        'conversation_messages',
        sa.Column('id', big, nullable=False),
        sa.Column('conversation_id', big, nullable=False),
        sa.Column('author_kind', sa.String(length=10), nullable=False),
        sa.Column('author_id', big, nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', dt, nullable=False),
        sa.CheckConstraint("author_kind IN ('member', 'staff')", name=op.f('ck_conversation_messages_author_kind')),
        sa.ForeignKeyConstraint(['author_id'], ['accounts.id'], name=op.f('fk_conversation_messages_author_id_accounts')),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_messages_conversation_id_conversations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_messages')),
    )
    op.create_index('ix_conversation_messages_conversation_id', 'conversation_messages', ['conversation_id', 'id'])
    op.create_table(
        'conversation_photos',
        sa.Column('id', big, nullable=False),
        sa.Column('message_id', big, nullable=False),
        sa.Column('content_type', sa.String(length=20), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['conversation_messages.id'], name=op.f('fk_conversation_photos_message_id_conversation_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_photos')),
    )
    op.create_index(op.f('ix_conversation_photos_message_id'), 'conversation_photos', ['message_id'])
    op.create_table(
        'saved_replies',
        sa.Column('id', big, nullable=False),
        sa.Column('org_id', big, nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_by', big, nullable=True),
        sa.Column('created_at', dt, nullable=False),
        sa.ForeignKeyConstraint(['created_by'], ['accounts.id'], name=op.f('fk_saved_replies_created_by_accounts')),
        sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_saved_replies_org_id_orgs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_replies')),
    )
    op.create_index(op.f('ix_saved_replies_org_id'), 'saved_replies', ['org_id'])


def downgrade():
    op.drop_index(op.f('ix_saved_replies_org_id'), table_name='saved_replies')
    op.drop_table('saved_replies')
    op.drop_index(op.f('ix_conversation_photos_message_id'), table_name='conversation_photos')
    op.drop_table('conversation_photos')
    op.drop_index('ix_conversation_messages_conversation_id', table_name='conversation_messages')
    op.drop_table('conversation_messages')
    op.drop_index('ix_conversations_member_last', table_name='conversations')
    op.drop_index('ix_conversations_org_status_last', table_name='conversations')
    op.drop_table('conversations')
    op.drop_index('ix_announcement_reads_announcement_id', table_name='announcement_reads')
    op.drop_table('announcement_reads')
    op.drop_index('ix_announcements_author_org_id', table_name='announcements')
    op.drop_index('ix_announcements_audience_key_publish_at', table_name='announcements')
    op.drop_table('announcements')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_accounts_branch_admin_org'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_accounts_role'), type_='check')
        batch_op.create_check_constraint('role', OLD_ROLES)
        batch_op.drop_constraint(batch_op.f('fk_accounts_org_id_orgs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_accounts_org_id'))
        batch_op.drop_column('org_id')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_members_org_id_orgs'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_members_org_id'))
        batch_op.drop_column('org_id')
    op.drop_index('uq_orgs_one_city', table_name='orgs')
    op.drop_index(op.f('ix_orgs_parent_id'), table_name='orgs')
    op.drop_index('ix_orgs_region', table_name='orgs')
    op.drop_index('ix_orgs_path', table_name='orgs')
    op.drop_table('orgs')
