"""Counter redemption for owners and clerks: look a code up, redeem it, list and revert recent
scans. The decisions are ``flashsale.redemption``'s, the same the JSON API makes."""

from __future__ import annotations

from sqlalchemy import select

from flashsale import redemption as fr
from flashsale.models import Redemption, Voucher
from marketplace.extensions import db
from marketplace.models import utcnow

from .access import STAFF, merchant_of


def lookup(principal, code: str) -> Voucher:
    merchant = merchant_of(principal, STAFF)
    return fr.merchant_voucher(merchant.id, code)


def redeem(principal, code: str, key: str) -> Redemption:
    merchant_of(principal, STAFF)
    return fr.redeem(principal, code, key)


def revert(principal, redemption_id: int) -> Redemption:
    merchant_of(principal, STAFF)
    return fr.revert(principal, redemption_id)


def recent_query(principal):
    merchant = merchant_of(principal, STAFF)
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
