"""Campaigns (flash sales), vouchers, redemptions and audit results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.merchants import Merchant
from marketplace.models import BigId, UTCDateTime, one_of, utcnow
from marketplace.vouchercodes import CodeColumn

CATEGORIES = ("movie", "concert", "attraction", "car_wash", "other")
# Stored lifecycle; ``scheduled`` becomes live / sold_out / ended by the clock and the stock
# (see services.effective_status), so no job has to flip it at the second a sale opens.
STATUSES = ("draft", "scheduled", "live", "sold_out", "ended", "cancelled")
VOUCHER_STATUSES = ("issued", "redeemed", "cancelled", "expired")
# How a sale hands its tickets out (docs/flashsale.md "Sale modes"): first come first served at
# the claim endpoint, a waiting room that admits members at a set rate, or a lottery draw.
# Fixed once the sale is published. The API accepts the modes in ``OFFERED``.
MODES = ("first_come", "queue", "lottery")
OFFERED_MODES = ("first_come", "queue", "lottery")
# ``excluded``: drawn (or next on the waiting list) while over the union's quota or barred for
# no-shows: skipped, with ``LotteryEntry.reason`` published (flashsale/lottery.py).
ENTRY_OUTCOMES = ("won", "promoted", "waiting", "excluded")


class Campaign(db.Model):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    title_en: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    description_en: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    venue: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    image_url: Mapped[str | None] = mapped_column(String(500))
    total_stock: Mapped[int] = mapped_column(Integer, nullable=False)
    per_member_limit: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cancel_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    require_active_card: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    regions: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the sale's Redis pool was deleted (flashsale.retire): from then on SQL alone
    # answers for its vouchers, and reconcile_pools never reopens it.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(
        String(12), nullable=False, default="first_come", server_default="first_come"
    )
    # Waiting room (mode ``queue``): members may join from queue_opens_at (None: 15 minutes
    # before the start); admitted at admission_rate per second while the members admitted and
    # not yet claimed stay within the unclaimed stock times over_admission (flashsale/room.py).
    queue_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    admission_rate: Mapped[float | None] = mapped_column(Float)
    over_admission: Mapped[float | None] = mapped_column(Float)
    # Lottery (docs/flashsale.md "Lottery: weights, confirmation, hand-ons"), stated publicly:
    # an entrant's weight is (hardship_weight if the member is in hardship else 1) times
    # (1 + min(loss_weight * draws lost in the last loss_days days, loss_cap)); None: weight 1.
    hardship_weight: Mapped[int | None] = mapped_column(Integer)
    loss_weight: Mapped[int | None] = mapped_column(Integer)
    loss_days: Mapped[int | None] = mapped_column(Integer)
    loss_cap: Mapped[int | None] = mapped_column(Integer)
    # Winners confirm within this many hours of their win, or the ticket passes on (None: no
    # confirmation asked). Until handon_until the merchant may mark a winner's voucher unused.
    confirm_hours: Mapped[int | None] = mapped_column(Integer)
    handon_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    merchant: Mapped[Merchant] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
        CheckConstraint(one_of("mode", MODES), name="mode"),
        CheckConstraint("total_stock >= 0", name="total_stock"),
        CheckConstraint("per_member_limit >= 1", name="per_member_limit"),
        Index("ix_campaigns_status_ends_at", "status", "ends_at"),
    )

    @property
    def pool_id(self) -> str:
        return str(self.id)


class Voucher(db.Model):
    """One claimed ticket. Belongs to the member (not the card: it survives a card reissue)."""

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    code: Mapped[str] = mapped_column(CodeColumn, nullable=False, unique=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="issued")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    persisted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by: Mapped[int | None] = mapped_column(BigId)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The member's Idempotency-Key: restored into the engine after Redis loses data, so a retry
    # still gets this voucher back (null for vouchers persisted before it was recorded).
    request_id: Mapped[str | None] = mapped_column(String(64))

    campaign: Mapped[Campaign] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(one_of("status", VOUCHER_STATUSES), name="status"),
        Index("ix_vouchers_member_claimed", "member_id", "claimed_at"),
        Index("ix_vouchers_campaign_status", "campaign_id", "status"),
    )


class VoucherConflict(db.Model):
    """An outbox claim the persist step could not store because a *different* voucher holds its
    claim id or code (an id reused after Redis lost data). Kept for review, never dropped."""

    __tablename__ = "voucher_conflicts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # claim_id | code
    claim_id: Mapped[str] = mapped_column(String(120), nullable=False)
    code: Mapped[str] = mapped_column(CodeColumn, nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    existing_voucher_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("vouchers.id"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint(one_of("kind", ("claim_id", "code")), name="kind"),
        Index("uq_voucher_conflicts_claim_code", "claim_id", "code", unique=True),
    )


class Redemption(db.Model):
    """A counter scan. ``idempotency_key`` is scoped to the scanning account."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    voucher_id: Mapped[int] = mapped_column(BigId, ForeignKey("vouchers.id"), nullable=False)
    merchant_id: Mapped[int] = mapped_column(BigId, nullable=False, index=True)
    account_id: Mapped[int] = mapped_column(BigId, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(64), nullable=False)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reverted_by: Mapped[int | None] = mapped_column(BigId)

    voucher: Mapped[Voucher] = relationship(lazy="joined")

    __table_args__ = (
        Index("uq_redemptions_account_key", "account_id", "idempotency_key", unique=True),
    )


class CampaignAudit(db.Model):
    """The result of one audit run: engine counters vs outbox vs SQL vouchers."""

    __tablename__ = "campaign_audits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id"), nullable=False, index=True
    )
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    total_stock: Mapped[int] = mapped_column(Integer, nullable=False)
    engine_claimed: Mapped[int | None] = mapped_column(Integer)
    outbox_claims: Mapped[int | None] = mapped_column(Integer)
    sql_vouchers: Mapped[int] = mapped_column(Integer, nullable=False)
    repersisted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    problems: Mapped[list] = mapped_column(JSON, nullable=False, default=list)


class LotteryDraw(db.Model):
    """A lottery sale's draw (flashsale/lottery.py). Written at publish with the commitment
    (SHA-256 of the secret seed) and the named future beacon round; the seed is shown only once
    the draw ran, with the beacon's value and the hash of the entrants list."""

    __tablename__ = "lottery_draws"

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), primary_key=True)
    seed: Mapped[str] = mapped_column(String(64), nullable=False)  # hex, secret until drawn
    commitment: Mapped[str] = mapped_column(String(64), nullable=False)
    beacon_source: Mapped[str] = mapped_column(String(40), nullable=False)
    beacon_round: Mapped[int] = mapped_column(BigId, nullable=False)
    beacon_value: Mapped[str | None] = mapped_column(String(128))
    entrants_hash: Mapped[str | None] = mapped_column(String(64))
    entrants: Mapped[int | None] = mapped_column(Integer)
    winners: Mapped[int | None] = mapped_column(Integer)
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class LotteryEntry(db.Model):
    """A member's registration for a lottery sale. ``ticket`` (random, shown to the member) is
    what the published entrants list holds instead of the member's identity."""

    __tablename__ = "lottery_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), nullable=False)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    ticket: Mapped[str] = mapped_column(String(16), nullable=False)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    position: Mapped[int | None] = mapped_column(Integer)  # 1-based place in the drawn order
    outcome: Mapped[str | None] = mapped_column(String(10))
    # The weight the draw used (published in the entrants list of a weighted sale).
    weight: Mapped[int | None] = mapped_column(Integer)
    # Why the entry was excluded (quota_exceeded / no_show_ban), or why a win was passed on
    # (cancelled / unconfirmed / unused) at ``passed_at``.
    reason: Mapped[str | None] = mapped_column(String(20))
    won_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(one_of("outcome", ENTRY_OUTCOMES), name="outcome"),
        Index("uq_lottery_entries_member", "campaign_id", "member_id", unique=True),
        Index("uq_lottery_entries_ticket", "campaign_id", "ticket", unique=True),
        Index("ix_lottery_entries_waiting", "campaign_id", "outcome", "position"),
        Index("ix_lottery_entries_confirm_by", "confirm_by"),
    )


class SaleRule(db.Model):
    """A union rule across sales (docs/flashsale.md "Quotas and no-shows"), for one ``scope``:
    ``*`` (every sale) or a category. ``monthly_limit``: tickets per member per calendar month
    (the month the sale starts, Asia/Shanghai); ``no_show_limit`` no-shows within
    ``no_show_window_days`` bar the member from the scope's sales for ``ban_days``."""

    __tablename__ = "sale_rules"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    monthly_limit: Mapped[int | None] = mapped_column(Integer)
    no_show_limit: Mapped[int | None] = mapped_column(Integer)
    no_show_window_days: Mapped[int] = mapped_column(Integer, nullable=False, default=365)
    ban_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_by: Mapped[int | None] = mapped_column(BigId)


class NoShowBan(db.Model):
    """A member barred from a scope's sales after too many unused free tickets, until ``until``
    (or until an admin lifted it)."""

    __tablename__ = "no_show_bans"
    __table_args__ = (Index("ix_no_show_bans_member", "member_id", "scope"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigId, nullable=False)
    scope: Mapped[str] = mapped_column(String(20), nullable=False)
    no_shows: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[int | None] = mapped_column(BigId)
    lift_reason: Mapped[str | None] = mapped_column(String(200))

    def active(self, now: datetime) -> bool:
        return self.lifted_at is None and self.until > now


class SaleFairness(db.Model):
    """The fairness figures the union published for one sale (flashsale/fairness.py)."""

    __tablename__ = "sale_fairness"

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    figures: Mapped[dict] = mapped_column(JSON, nullable=False)

    campaign = relationship("Campaign")
