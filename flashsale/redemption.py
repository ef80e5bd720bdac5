"""Counter redemption: one conditional UPDATE decides which of two racing scans wins."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace import permissions
from marketplace.errors import Conflict, Gone, NotFound
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow
from marketplace.notices import notify
from marketplace.permissions import Actor
from marketplace.vouchercodes import normalise_code

from .claims import check_idempotency_key
from .models import Campaign, Redemption, Voucher

REVERT_WINDOW = timedelta(minutes=10)


def _account_name(account_id: int | None) -> str | None:
    if account_id is None:
        return None
    from marketplace.auth.models import Account

    account = db.session.get(Account, account_id)
    return account.username if account else None


def merchant_voucher(merchant_id: int, code: str) -> Voucher:
    """The voucher if it belongs to one of this merchant's sales; otherwise 404, never a hint."""
    code = normalise_code(code)
    voucher = db.session.scalar(
        select(Voucher)
        .join(Campaign, Campaign.id == Voucher.campaign_id)
        .where(Voucher.code == code, Campaign.merchant_id == merchant_id)
    )
    if voucher is None:
        raise NotFound("No such voucher.")
    return voucher


def redeem(principal, code: str, key: str) -> Redemption:
    key = check_idempotency_key(key)
    existing = db.session.scalar(
        select(Redemption).where(
            Redemption.account_id == principal.account_id, Redemption.idempotency_key == key
        )
    )
    if existing is not None:
        return existing
    voucher = merchant_voucher(principal.merchant_id, code)
    merchant = voucher.campaign.merchant
    if permissions.redemption_paused(merchant):
        raise Conflict("The merchant is suspended.", code="merchant_suspended")
    now = utcnow()
    if voucher.status == "cancelled":
        raise Conflict("This voucher was cancelled.", code="voucher_cancelled")
    if voucher.status == "expired" or (voucher.status == "issued" and now > voucher.valid_until):
        raise Gone("This voucher has expired.", code="voucher_expired",
                   valid_until=voucher.valid_until.isoformat())  # fmt: skip
    if voucher.status == "issued" and now < voucher.valid_from:
        raise Conflict("This voucher is not valid yet.", code="voucher_not_yet_valid",
                       valid_from=voucher.valid_from.isoformat())  # fmt: skip
    won = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.status == "issued")
        .values(status="redeemed", redeemed_at=now, redeemed_by=principal.account_id)
    ).rowcount
    if not won:
        db.session.rollback()
        voucher = db.session.get(Voucher, voucher.id, populate_existing=True)
        if voucher.status == "cancelled":
            raise Conflict("This voucher was cancelled.", code="voucher_cancelled")
        raise already_redeemed(voucher)
    redemption = Redemption(
        voucher_id=voucher.id, merchant_id=principal.merchant_id,
        account_id=principal.account_id, idempotency_key=key, redeemed_at=now,
    )  # fmt: skip
    db.session.add(redemption)
    record_audit("voucher.redeem", "voucher", voucher.id, actor=Actor(principal),
                 merchant_id=principal.merchant_id, data={"code": voucher.code})  # fmt: skip
    try:
        db.session.commit()
    except IntegrityError:  # the same key raced itself: the other request won, answer like it
        db.session.rollback()
        return db.session.scalar(
            select(Redemption).where(
                Redemption.account_id == principal.account_id, Redemption.idempotency_key == key
            )
        )
    notify(voucher.member_id, "voucher.redeemed", {
        "voucher_id": voucher.id, "title": voucher.campaign.title, "merchant": merchant.name_zh,
        "redeemed_at": now.isoformat()}, key=f"redeemed:sale-voucher:{voucher.id}")  # fmt: skip
    return redemption


def already_redeemed(voucher: Voucher) -> Conflict:
    return Conflict(
        "This voucher has already been redeemed.",
        code="already_redeemed",
        redeemed_at=voucher.redeemed_at.isoformat() if voucher.redeemed_at else None,
        redeemed_by={"account_id": voucher.redeemed_by,
                     "username": _account_name(voucher.redeemed_by)},
    )  # fmt: skip


def revert(principal, redemption_id: int) -> Redemption:
    redemption = db.session.get(Redemption, redemption_id)
    permissions.own(redemption, principal.merchant_id, "redemption")
    if redemption.reverted_at is not None:
        return redemption
    now = utcnow()
    if now - redemption.redeemed_at > REVERT_WINDOW:
        raise Conflict("A redemption can only be reverted within 10 minutes.",
                       code="revert_window_passed")  # fmt: skip
    undone = db.session.execute(
        update(Voucher)
        .where(Voucher.id == redemption.voucher_id, Voucher.status == "redeemed")
        .values(status="issued", redeemed_at=None, redeemed_by=None)
    ).rowcount
    marked = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.reverted_at.is_(None))
        .values(reverted_at=now, reverted_by=principal.account_id)
    ).rowcount
    if not (undone and marked):
        db.session.rollback()
        db.session.refresh(redemption)
        if redemption.reverted_at is not None:
            return redemption
        raise Conflict("The voucher is no longer redeemed.", code="not_redeemed")
    record_audit("voucher.revert", "voucher", redemption.voucher_id, actor=Actor(principal),
                 merchant_id=principal.merchant_id)  # fmt: skip
    db.session.commit()
    db.session.refresh(redemption)
    return redemption
