"""Group-buys: tipping-point deals and team deals, their teams, participants, vouchers, notices.

State columns change only through :mod:`catalogue.states`, which refuses illegal
transitions and writes each change as a conditional UPDATE (so a repeated job changes nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.merchants import CATEGORIES, Merchant
from marketplace.models import BigId, UTCDateTime, one_of, utcnow
from marketplace.vouchercodes import CodeColumn

from .regions import RegionsMixin

MODES = ("tipping", "team")
DEAL_STATES = ("open", "succeeded", "failed", "closed", "cancelled")
TEAM_STATES = ("forming", "succeeded", "dissolved")
PARTICIPANT_STATES = ("joined", "left", "confirmed", "released")
VOUCHER_STATUSES = ("issued", "redeemed", "cancelled", "expired")
NOTICE_KINDS = (
    "deal_succeeded",
    "deal_failed",
    "deal_cancelled",
    "team_succeeded",
    "team_dissolved",
)
_JOINED = "state = 'joined'"


class GroupBuy(RegionsMixin, db.Model):
    """A deal. ``max_participants`` is the stock (units); ``joined`` counts units held now."""

    __tablename__ = "groupbuys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id"), nullable=False, index=True
    )
    mode: Mapped[str] = mapped_column(String(10), nullable=False, default="tipping")
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    title_en: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    description_en: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    image_url: Mapped[str | None] = mapped_column(String(500))
    member_price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    usual_price_cents: Mapped[int] = mapped_column(Integer, nullable=False)
    min_participants: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    max_participants: Mapped[int] = mapped_column(Integer, nullable=False)
    per_member_limit: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    team_size: Mapped[int | None] = mapped_column(Integer)
    team_window_seconds: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    voucher_valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="open")
    joined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("mode", MODES), name="mode"),
        CheckConstraint(one_of("state", DEAL_STATES), name="state"),
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(
            "min_participants >= 1 AND max_participants >= min_participants", name="sizes"
        ),
        CheckConstraint("per_member_limit >= 1", name="per_member_limit"),
        CheckConstraint("joined >= 0", name="joined"),
        CheckConstraint("deadline > opens_at", name="window"),
        CheckConstraint(
            "mode = 'tipping' OR (team_size >= 2 AND team_window_seconds >= 60)", name="team"
        ),
        Index("ix_groupbuys_state_deadline", "state", "deadline"),
    )

    @property
    def pool_id(self) -> str:
        """Stock pool in the engine: units for tipping deals, team slots for team deals."""
        return f"gb-{self.id}"


class GroupBuyTeam(db.Model):
    """A team of a team deal: succeeds when ``size`` members joined before ``expires_at``."""

    __tablename__ = "groupbuy_teams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("groupbuys.id"), nullable=False, index=True
    )
    leader_member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    # The team's slot in the deal's pool, given back if the team dissolves.
    slot_claim_id: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    joined: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="forming")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    groupbuy: Mapped[GroupBuy] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("state", TEAM_STATES), name="state"),
        CheckConstraint("joined >= 0", name="joined"),
        Index("ix_groupbuy_teams_state_expires_at", "state", "expires_at"),
    )

    @property
    def pool_id(self) -> str:
        return f"gb-{self.groupbuy_id}-t{self.id}"


class GroupBuyParticipant(db.Model):
    """One member's place in a deal (and team). ``claim_id`` is the engine's reservation."""

    __tablename__ = "groupbuy_participants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    groupbuy_id: Mapped[int] = mapped_column(BigId, ForeignKey("groupbuys.id"), nullable=False)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("groupbuy_teams.id"))
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    claim_id: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    qty: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="joined")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    groupbuy: Mapped[GroupBuy] = relationship(lazy="select")
    team: Mapped[GroupBuyTeam | None] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("state", PARTICIPANT_STATES), name="state"),
        CheckConstraint("qty >= 1", name="qty"),
        Index("ix_groupbuy_participants_member", "member_id", "joined_at"),
        Index("ix_groupbuy_participants_deal_state", "groupbuy_id", "state"),
        # A member holds one live place per deal (the engine's limit is the first guard).
        Index(
            "uq_groupbuy_participants_live",
            "groupbuy_id",
            "member_id",
            unique=True,
            sqlite_where=text(_JOINED),
            postgresql_where=text(_JOINED),
        ),
    )


class GroupBuyVoucher(db.Model):
    """Issued to each participant of a deal or team that succeeded; paid in store."""

    __tablename__ = "groupbuy_vouchers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("groupbuy_participants.id"), nullable=False, unique=True
    )
    groupbuy_id: Mapped[int] = mapped_column(BigId, ForeignKey("groupbuys.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False, index=True)
    code: Mapped[str] = mapped_column(CodeColumn, nullable=False, unique=True)
    qty: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by: Mapped[int | None] = mapped_column(BigId)

    groupbuy: Mapped[GroupBuy] = relationship(lazy="select")

    __table_args__ = (CheckConstraint(one_of("status", VOUCHER_STATUSES), name="status"),)


class GroupBuyNotice(db.Model):
    """What a member is told about a deal or team outcome (shown on "my group-buys")."""

    __tablename__ = "groupbuy_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    groupbuy_id: Mapped[int] = mapped_column(BigId, ForeignKey("groupbuys.id"), nullable=False)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("groupbuy_teams.id"))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    groupbuy: Mapped[GroupBuy] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("kind", NOTICE_KINDS), name="kind"),
        Index("ix_groupbuy_notices_member_created", "member_id", "created_at"),
    )
