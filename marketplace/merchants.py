"""Merchants: the businesses that run offers, group-buys and flash sales (ground layer: every
feature refers to them), and the one service that creates an approved merchant with its owner."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .errors import ValidationFailed
from .extensions import db
from .models import BigId, UTCDateTime, one_of, record_audit, utcnow

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
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
    )

    def display_name(self, locale: str | None = None) -> str:
        if locale and locale.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh

    def __repr__(self) -> str:
        return f"<Merchant {self.id} {self.name_zh!r} {self.status}>"


def create_merchant(*, name_zh: str, category: str, region: str, owner: str, password: str,
                    name_en: str | None = None, address: str = "", licence_no: str | None = None,
                    contact_name: str = "", contact_phone: str = ""):  # fmt: skip
    """An approved merchant plus its ``merchant_owner`` account (one transaction for the
    merchant; the account service commits the login)."""
    from .auth.services import create_account

    errors = {}
    if not name_zh.strip() or len(name_zh) > 100:
        errors["name"] = ["1 to 100 characters."]
    if category not in CATEGORIES:
        errors["category"] = [f"One of {', '.join(CATEGORIES)}."]
    if not re.fullmatch(r"\d{6}", region or ""):
        errors["region"] = ["A 6-digit region code."]
    if errors:
        raise ValidationFailed(errors=errors)
    now = utcnow()
    merchant = Merchant(
        name_zh=name_zh.strip(), name_en=name_en, category=category, region=region,
        address=address, licence_no=licence_no, contact_name=contact_name,
        contact_phone=contact_phone, status="approved", created_at=now, approved_at=now,
    )  # fmt: skip
    db.session.add(merchant)
    db.session.flush()
    record_audit("merchant.create", "merchant", merchant.id, merchant_id=merchant.id)
    try:
        account = create_account(owner, password, "merchant_owner", merchant_id=merchant.id)
    except Exception:
        db.session.rollback()
        raise
    return merchant, account
