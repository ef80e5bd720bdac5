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


__all__ = ["AUDIENCES", "LINK_KINDS", "Announcement", "AnnouncementRead", "Integer"]
