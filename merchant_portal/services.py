"""Merchant services used by the operator CLI and the demo data."""

from __future__ import annotations

import re

from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow

from .models import CATEGORIES, Merchant


def create_merchant(*, name_zh: str, category: str, region: str, owner: str, password: str,
                    name_en: str | None = None, address: str = "", licence_no: str | None = None,
                    contact_name: str = "", contact_phone: str = ""):  # fmt: skip
    """An approved merchant plus its ``merchant_owner`` account (one transaction for the
    merchant; the account service commits the login)."""
    from marketplace.auth.services import create_account

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
