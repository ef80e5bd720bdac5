"""Merchant applications and their review: apply, approve, reject, suspend, reinstate.

An application is a ``pending`` merchant plus a disabled owner login; approval enables the login.
Suspension republishes the hot-path metadata of every published sale (``merchant_active = 0``),
so claims stop within ``FLASHSALE_META_TTL`` in every web process. Every transition is audited.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.auth.models import Account
from marketplace.auth.passwords import hash_password
from marketplace.auth.services import check_password_policy, find_account
from marketplace.auth.tokens import publish_version
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.merchants import CATEGORIES, Merchant
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor

PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
LICENCE_RE = re.compile(r"^[0-9A-Za-z-]{6,32}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")


def validate_application(data: dict) -> dict[str, list[str]]:
    """Field errors of an application (the API schema and the page form both end here)."""
    errors: dict[str, list[str]] = {}

    def bad(field, message):
        errors.setdefault(field, []).append(message)

    if not (data.get("business_name") or "").strip() or len(data["business_name"]) > 100:
        bad("business_name", "1 to 100 characters.")
    if not LICENCE_RE.match(data.get("licence_no") or ""):
        bad("licence_no", "6 to 32 letters, digits or dashes (the unified social credit code).")
    if data.get("category") not in CATEGORIES:
        bad("category", f"One of {', '.join(CATEGORIES)}.")
    if not re.fullmatch(r"\d{6}", data.get("region") or ""):
        bad("region", "A 6-digit region code.")
    if not (data.get("address") or "").strip():
        bad("address", "Required.")
    if not (data.get("contact_name") or "").strip():
        bad("contact_name", "Required.")
    if not PHONE_RE.match(data.get("contact_phone") or ""):
        bad("contact_phone", "A phone number.")
    username = data.get("owner_username") or ""
    if not USERNAME_RE.match(username) or username.isdigit():
        bad("owner_username", "3 to 64 letters, digits, _ . or -, not only digits.")
    if len(data.get("owner_password") or "") < 8:
        bad("owner_password", "Use at least 8 characters.")
    return errors


def apply(data: dict) -> Merchant:
    """A pending merchant and its disabled owner login (one transaction)."""
    errors = validate_application(data)
    if errors:
        raise ValidationFailed(errors=errors)
    check_password_policy(data["owner_password"])
    if find_account(data["owner_username"]) is not None:
        raise Conflict("That login name is taken.", code="username_taken",
                       errors={"owner_username": ["That login name is taken."]})  # fmt: skip
    dupe = db.session.scalar(
        select(Merchant.id).where(
            Merchant.licence_no == data["licence_no"],
            Merchant.status.in_(("pending", "approved", "suspended")),
        )
    )
    if dupe is not None:
        raise Conflict("A merchant with this licence number already applied.",
                       code="licence_taken",
                       errors={"licence_no": ["Already registered."]})  # fmt: skip
    merchant = Merchant(
        name_zh=data["business_name"].strip(), name_en=(data.get("business_name_en") or None),
        category=data["category"], licence_no=data["licence_no"], region=data["region"],
        address=data["address"].strip(), contact_name=data["contact_name"].strip(),
        contact_phone=data["contact_phone"].strip(), status="pending",
    )  # fmt: skip
    db.session.add(merchant)
    db.session.flush()
    owner = Account(
        username=data["owner_username"].strip(), role="merchant_owner",
        password_hash=hash_password(data["owner_password"]), merchant_id=merchant.id,
        is_active=False,
    )  # fmt: skip
    db.session.add(owner)
    db.session.flush()
    record_audit("merchant.apply", "merchant", merchant.id, merchant_id=merchant.id,
                 data={"owner": owner.username, "licence_no": merchant.licence_no})  # fmt: skip
    db.session.commit()
    return merchant


def get_merchant(merchant_id: int) -> Merchant:
    merchant = db.session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("No such merchant.")
    return merchant


def owner_of(merchant_id: int) -> Account | None:
    return db.session.scalar(
        select(Account)
        .where(Account.merchant_id == merchant_id, Account.role == "merchant_owner")
        .order_by(Account.id)
        .limit(1)
    )


def merchants_query(status: str | None = None):
    stmt = select(Merchant).order_by(Merchant.created_at.desc(), Merchant.id.desc())
    if status:
        stmt = stmt.where(Merchant.status == status)
    return stmt


def _transition(merchant: Merchant, allowed: tuple[str, ...], to: str, principal) -> None:
    if merchant.status not in allowed:
        raise Conflict(f"A {merchant.status} merchant cannot become {to}.",
                       code="invalid_transition", status_now=merchant.status)  # fmt: skip
    merchant.status = to
    merchant.reviewed_at = utcnow()
    merchant.reviewed_by = principal.account_id


def approve(principal, merchant_id: int) -> Merchant:
    merchant = get_merchant(merchant_id)
    _transition(merchant, ("pending", "rejected"), "approved", principal)
    merchant.approved_at = merchant.reviewed_at
    merchant.status_reason = None
    owner = owner_of(merchant.id)
    if owner is not None:
        owner.is_active = True
    record_audit("merchant.approve", "merchant", merchant.id, actor=Actor(principal),
                 merchant_id=merchant.id)  # fmt: skip
    db.session.commit()
    if owner is not None:
        publish_version(owner.id, owner.token_version)
    return merchant


def reject(principal, merchant_id: int, reason: str) -> Merchant:
    reason = _reason(reason)
    merchant = get_merchant(merchant_id)
    _transition(merchant, ("pending",), "rejected", principal)
    merchant.status_reason = reason
    record_audit("merchant.reject", "merchant", merchant.id, actor=Actor(principal),
                 merchant_id=merchant.id, data={"reason": merchant.status_reason})  # fmt: skip
    db.session.commit()
    return merchant


def suspend(principal, merchant_id: int, reason: str, vouchers_valid: bool) -> Merchant:
    reason = _reason(reason)
    merchant = get_merchant(merchant_id)
    _transition(merchant, ("approved",), "suspended", principal)
    merchant.status_reason = reason
    merchant.vouchers_valid_when_suspended = bool(vouchers_valid)
    record_audit("merchant.suspend", "merchant", merchant.id, actor=Actor(principal),
                 merchant_id=merchant.id,
                 data={"reason": merchant.status_reason,
                       "vouchers_valid": merchant.vouchers_valid_when_suspended})  # fmt: skip
    db.session.commit()
    republish_sales(merchant)
    return merchant


def reinstate(principal, merchant_id: int) -> Merchant:
    merchant = get_merchant(merchant_id)
    _transition(merchant, ("suspended",), "approved", principal)
    merchant.status_reason = None
    record_audit("merchant.reinstate", "merchant", merchant.id, actor=Actor(principal),
                 merchant_id=merchant.id)  # fmt: skip
    db.session.commit()
    republish_sales(merchant)
    return merchant


def republish_sales(merchant: Merchant) -> int:
    """Rewrite the claim path's metadata of the merchant's published sales (merchant status)."""
    from flashsale.services import republish_merchant_sales

    return republish_merchant_sales(merchant.id)


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(errors={"reason": ["Give a reason (1 to 500 characters)."]})
    return reason
