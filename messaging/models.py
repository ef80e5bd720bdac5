"""Announcements and the per-member read markers: the only rows a member's reading writes.

Publishing writes ONE row whatever the audience's size: the audience is stored as a predicate
(``audience_key``: ``all``, ``org:<id>`` or ``region:<code>``, plus ``activated_only``). A
member's inbox is the announcements whose key is one of the member's own keys (``all``, the ids
of their organisation and its ancestors, their region), found through the index on
(audience_key, publish_at). See docs/messages.md.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from marketplace.extensions import db
from marketplace.models import BigId, UTCDateTime, utcnow

AUDIENCES = ("all", "org", "region")
LINK_KINDS = ("sale", "offer", "groupbuy")


class Announcement(db.Model):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body_md: Mapped[str] = mapped_column(Text, nullable=False)
    body_html: Mapped[str] = mapped_column(Text, nullable=False)  # sanitised when written
    audience: Mapped[str] = mapped_column(String(10), nullable=False)
    audience_org_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orgs.id"))
    audience_region: Mapped[str | None] = mapped_column(String(6))
    audience_key: Mapped[str] = mapped_column(String(40), nullable=False)
    activated_only: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    link_kind: Mapped[str | None] = mapped_column(String(10))
    link_id: Mapped[int | None] = mapped_column(BigId)
    cover_type: Mapped[str | None] = mapped_column(String(20))
    cover: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    # Whose announcement it is: the author's account and the organisation it speaks for (the
    # root for the city admin); branch admins see and withdraw those of their subtree.
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    author_org_id: Mapped[int] = mapped_column(BigId, ForeignKey("orgs.id"), nullable=False)
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("audience IN ('all', 'org', 'region')", name="audience"),
        CheckConstraint(
            "link_kind IS NULL OR link_kind IN ('sale', 'offer', 'groupbuy')", name="link_kind"
        ),
        Index("ix_announcements_audience_key_publish_at", "audience_key", "publish_at"),
        Index("ix_announcements_author_org_id", "author_org_id"),
    )

    def status(self, now: datetime) -> str:
        if self.withdrawn_at is not None:
            return "withdrawn"
        return "scheduled" if self.publish_at > now else "published"


class AnnouncementRead(db.Model):
    """Member ``member_id`` opened announcement ``announcement_id`` (written once, on opening)."""

    __tablename__ = "announcement_reads"

    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), primary_key=True)
    announcement_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_announcement_reads_announcement_id", "announcement_id"),)


CONVERSATION_STATUSES = ("open", "closed")


class Conversation(db.Model):
    """A member's conversation with their branch union (即时沟通).

    ``org_id`` is the member's node when it was opened: the admins of that node's ancestors
    (and the city admin) handle it. Counters and times kept on the row make the admins' inbox
    one indexed query: ``staff_unread`` member messages no admin has opened, ``member_unread``
    replies the member has not seen, ``waiting_since`` the oldest unanswered member message.
    """

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("orgs.id"), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    assignee_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    staff_unread: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    member_unread: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_conversations_org_status_last", "org_id", "status", "last_message_at"),
        Index("ix_conversations_member_last", "member_id", "last_message_at"),
    )


class ConversationMessage(db.Model):
    """One message: plain text (escaped wherever shown), written by the member or an admin."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    author_kind: Mapped[str] = mapped_column(String(10), nullable=False)
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("author_kind IN ('member', 'staff')", name="author_kind"),
        Index("ix_conversation_messages_conversation_id", "conversation_id", "id"),
    )


class ConversationPhoto(db.Model):
    __tablename__ = "conversation_photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversation_messages.id", ondelete="CASCADE"), nullable=False,
        index=True,
    )  # fmt: skip
    content_type: Mapped[str] = mapped_column(String(20), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))


class SavedReply(db.Model):
    """A reply an organisation's admins reuse; visible to the admins of its node and below."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("orgs.id"), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


# --------------------------------------------------------------------------- notices (item 5)

REMINDER_STATUSES = ("pending", "sent", "cancelled")


class Notice(db.Model):
    """Something the system told one member (a reminder, a result, a receipt): one row each.

    ``payload`` is JSON of ids, names and times, rendered into text by the member's page in
    their language (messaging/notices.py); ``key`` makes a delivery idempotent per member."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    payload: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_notices_member_id_id", "member_id", "id"),
        UniqueConstraint("member_id", "key", name="uq_notices_member_key"),
    )


class NoticePreference(db.Model):
    """A member's choice for one category of notices (no row: the default, inbox on)."""

    __tablename__ = "notice_preferences"

    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    inbox: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    outbound: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Reminder(db.Model):
    """A "remind me" on a subject (a flash sale): an RQ job ``job_id`` runs at ``remind_at``."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    subject_kind: Mapped[str] = mapped_column(String(20), nullable=False)
    subject_id: Mapped[int] = mapped_column(BigId, nullable=False)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'cancelled')", name="status"),
        UniqueConstraint("member_id", "subject_kind", "subject_id", name="uq_reminders_member"),
        Index("ix_reminders_subject", "subject_kind", "subject_id", "status"),
    )
