"""Counter redemption for owners and clerks: look a code up, redeem it, list and revert recent
scans. The decisions are ``flashsale.redemption``'s, the same the JSON API makes."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from catalogue import services as groupbuys
from catalogue.models import GroupBuyVoucher
from flashsale import services as fr
from flashsale.models import Redemption, Voucher
from marketplace import permissions
from marketplace.errors import Conflict, NotFound, Problem
from marketplace.extensions import db
from marketplace.members import cardcode
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor


def lookup(principal, code: str) -> Voucher | GroupBuyVoucher:
    """A flash-sale voucher of the merchant, else one of its group-buy vouchers (else 404)."""
    merchant = permissions.staff_merchant(principal, "voucher.redeem")
    try:
        return fr.merchant_voucher(merchant.id, code)
    except NotFound:
        return groupbuys.merchant_voucher(merchant, code)


def redeem(principal, code: str, key: str):
    """Redeem a flash-sale voucher (idempotent by ``key``), else a group-buy voucher with the
    group-buy API's rules; either way the result has ``voucher.code`` and a title."""
    merchant = permissions.staff_merchant(principal, "voucher.redeem")
    try:
        return fr.redeem(principal, code, key)
    except NotFound:
        groupbuys.merchant_voucher(merchant, code)  # not ours: 404 before anything else
        if permissions.redemption_paused(merchant):
            raise Conflict("The merchant is suspended.", code="merchant_suspended") from None
        voucher = groupbuys.redeem_voucher(merchant, code, principal.account_id)
    return SimpleNamespace(voucher=voucher, title=voucher.groupbuy.title)


def groupbuy_shown(voucher: GroupBuyVoucher) -> dict:
    """What the counter page shows of a group-buy voucher (its status as of now)."""
    expired = voucher.status == "issued" and utcnow() > voucher.valid_until
    return {
        "code": voucher.code,
        "campaign_title": voucher.groupbuy.title,
        "venue": "",
        "status": "expired" if expired else voucher.status,
    }


def verify_card(principal, code: str) -> dict:
    """A member's card code, checked for a merchant's staff: the card face, masked (refusals:
    ``marketplace.members.cardcode``). Each check is audit-logged for the merchant."""
    merchant = permissions.merchant_for(principal, "card.verify")
    try:
        card = cardcode.verify(code)
    except Problem as exc:
        record_audit("card.verify_refused", "merchant", merchant.id, actor=Actor(principal),
                     merchant_id=merchant.id, data={"code": exc.code})  # fmt: skip
        db.session.commit()
        raise
    record_audit("card.verify", "card", card.id, actor=Actor(principal),
                 merchant_id=merchant.id)  # fmt: skip
    db.session.commit()
    return cardcode.face(card)


def revert(principal, redemption_id: int) -> Redemption:
    permissions.staff_merchant(principal, "redemption.revert")
    return fr.revert(principal, redemption_id)


def recent_query(principal):
    merchant = permissions.staff_merchant(principal, "redemption.view")
    return (
        select(Redemption)
        .where(Redemption.merchant_id == merchant.id)
        .order_by(Redemption.redeemed_at.desc(), Redemption.id.desc())
    )


def recent(principal, limit: int = 20) -> list[Redemption]:
    return list(db.session.scalars(recent_query(principal).limit(limit)))


def revertible(redemption: Redemption, now=None) -> bool:
    now = now or utcnow()
    return redemption.reverted_at is None and now - redemption.redeemed_at <= fr.REVERT_WINDOW
