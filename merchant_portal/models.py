"""Merchants (the businesses that run offers and flash sales) and their sales' cover images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.extensions import db
from marketplace.models import BigId, UTCDateTime, utcnow

CATEGORIES = (
    "cinema",
    "performance_venue",
    "scenic_spot",
    "car_wash",
    "dining",
    "retail",
    "services",
    "other",
)
STATUSES = ("pending", "approved", "rejected", "suspended")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Merchant(db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    licence_no: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(6), nullable=False)
    address: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    contact_name: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    contact_phone: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Whether vouchers already issued may still be redeemed while the merchant is suspended.
    vouchers_valid_when_suspended: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last review decision (approve, reject, suspend, reinstate) and who took it.
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(_in("status", STATUSES), name="status"),
    )

    def display_name(self, locale: str | None = None) -> str:
        if locale and locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh

    def __repr__(self) -> str:
        return f"<Merchant {self.id} {self.name_zh!r} {self.status}>"


class CoverImage(db.Model):
    """A sale's cover picture, kept in the database so every web process can serve it."""

    __tablename__ = "cover_images"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchants.id"), nullable=False, index=True
    )
    content_type: Mapped[str] = mapped_column(String(32), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
