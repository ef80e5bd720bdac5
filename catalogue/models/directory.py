"""Directory extras for merchants, discount offers and members' favourite offers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.extensions import db
from marketplace.merchants import CATEGORIES, Merchant
from marketplace.models import BigId, UTCDateTime, one_of, utcnow

from .regions import RegionsMixin

OFFER_STATUSES = ("draft", "published", "withdrawn")


class MerchantProfile(db.Model):
    """What members see of a merchant beyond the portal's registration record.

    Kept in its own table so the merchant portal owns ``merchants`` alone; one row per merchant,
    created on first edit (a merchant without one is listed with empty extras).
    """

    __tablename__ = "merchant_profiles"

    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    opening_hours: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    photo_url: Mapped[str | None] = mapped_column(String(500))
    keywords: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    # Normalised (NFKC, lower case) name, keywords and address, searched with LIKE.
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    merchant: Mapped[Merchant] = relationship(
        backref=db.backref("profile", uselist=False, lazy="select")
    )


class Offer(RegionsMixin, db.Model):
    """A standing discount ("present your card: 20% off"): a catalogue entry, no stock."""

    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    title_en: Mapped[str | None] = mapped_column(String(120))
    terms: Mapped[str] = mapped_column(Text, nullable=False, default="")
    terms_en: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="published")
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    merchant: Mapped[Merchant] = relationship(lazy="select")

    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(one_of("status", OFFER_STATUSES), name="status"),
        CheckConstraint("valid_until > valid_from", name="validity"),
        Index("ix_offers_status_valid_until", "status", "valid_until"),
    )


class Favourite(db.Model):
    """A member's saved offer."""

    __tablename__ = "offer_favourites"

    member_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    offer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    offer: Mapped[Offer] = relationship(lazy="select")
