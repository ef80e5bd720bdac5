"""Members (real people), their union cards, and roster imports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Account  # noqa: F401  (accounts reference members; one metadata)
from ..extensions import db
from ..models import BigId, UTCDateTime, utcnow
from ..orgs.models import Org  # noqa: F401  (members.org_id references orgs)

CARD_STATUSES = ("issued", "active", "frozen", "cancelled")
# A person holds at most one *live* card. A reissue freezes the old card (it stays on record,
# frozen, so a found card cannot be used) and issues the new one, so "live" is issued or active.
LIVE_STATUSES = ("issued", "active")
_LIVE_SQL = "status IN ('issued', 'active')"


class Member(db.Model):
    """A real person. The resident ID is kept only as a keyed hash plus its last 4 characters."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    id_last4: Mapped[str] = mapped_column(String(4), nullable=False)
    phone: Mapped[str] = mapped_column(String(20), nullable=False)
    branch: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    region: Mapped[str] = mapped_column(String(6), nullable=False, index=True)
    import_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("member_imports.id"))
    # The union organisation (a branch; the district when the roster named none): marketplace.orgs
    org_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orgs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # A member in hardship (困难职工), from the roster's optional ``hardship`` column or an
    # admin: lottery sales may give them more weight (flashsale/lottery.py).
    hardship: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=sa_false()
    )

    cards: Mapped[list[Card]] = relationship(
        back_populates="member", order_by="Card.id", lazy="selectin"
    )

    @property
    def current_card(self) -> Card | None:
        """The live card, else the newest one (a frozen or cancelled card stays visible)."""
        live = [c for c in self.cards if c.status in LIVE_STATUSES]
        return live[-1] if live else (self.cards[-1] if self.cards else None)


class Card(db.Model):
    """A union card (also a bank debit card: 16-19 digits with a Luhn check digit)."""

    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    card_no: Mapped[str] = mapped_column(String(19), unique=True, nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaces_card_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("cards.id"))

    member: Mapped[Member] = relationship(back_populates="cards")

    __table_args__ = (
        CheckConstraint("status IN ('issued', 'active', 'frozen', 'cancelled')", name="status"),
        Index(
            "uq_cards_one_live_card_per_member",
            "member_id",
            unique=True,
            sqlite_where=text(_LIVE_SQL),
            postgresql_where=text(_LIVE_SQL),
        ),
    )

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class MemberImport(db.Model):
    """One uploaded roster file and the progress of the job that imports it."""

    __tablename__ = "member_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    encoding: Mapped[str | None] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    processed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    skipped_existing: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    rejected: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    failure: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )


class MemberImportError(db.Model):
    """A rejected roster row. The ID number is kept masked: rosters never persist it in clear."""

    __tablename__ = "member_import_errors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("member_imports.id", ondelete="CASCADE"), nullable=False
    )
    row_no: Mapped[int] = mapped_column(Integer, nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    message: Mapped[str] = mapped_column(String(255), nullable=False)
    row: Mapped[dict] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_member_import_errors_import_row", "import_id", "row_no"),)
