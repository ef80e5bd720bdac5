"""Members' vouchers: the list (SQL plus claims still on their way from the outbox) and cancel."""

from __future__ import annotations

import contextlib

from sqlalchemy import select, update

from inventory import ClaimNotFound, PoolNotFound
from marketplace.errors import Conflict, Gone, NotFound
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow
from marketplace.vouchercodes import normalise_code

from . import quotas
from .hotpath import get_engine
from .models import Voucher


def own_vouchers(member_id: int):
    """Newest first. Pagination happens in the route through marketplace.pagination."""
    return (
        select(Voucher)
        .where(Voucher.member_id == member_id)
        .order_by(Voucher.claimed_at.desc(), Voucher.id.desc())
    )


def get_own(member_id: int, code: str) -> Voucher:
    voucher = db.session.scalar(select(Voucher).where(Voucher.code == normalise_code(code)))
    if voucher is None or voucher.member_id != member_id:
        raise NotFound("No such voucher.")
    return voucher


def display_status(voucher: Voucher, now=None) -> str:
    if voucher.status == "issued" and (now or utcnow()) > voucher.valid_until:
        return "expired"
    return voucher.status


def cancel(principal, code: str) -> Voucher:
    """Give a ticket back before the sale's cancel deadline; its stock returns exactly once.

    SQL first (a conditional UPDATE decides against a racing redemption), then the engine. A crash
    between the two leaves a cancelled voucher whose engine claim still counts; the audit
    finishes that cancellation.
    """
    voucher = get_own(principal.member_id, code)
    campaign = voucher.campaign
    if voucher.status == "cancelled":  # a retry after a crash still gives the quota back
        quotas.refund(campaign, voucher.member_id, voucher.request_id)
        return voucher
    if voucher.status != "issued":
        raise Conflict(f"A {voucher.status} voucher cannot be cancelled.", code="not_cancellable")
    deadline = campaign.cancel_deadline
    if deadline is None or utcnow() > deadline:
        raise Gone("The cancel deadline of this sale has passed.", code="cancel_deadline_passed")
    now = utcnow()
    changed = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.status == "issued")
        .values(status="cancelled", cancelled_at=now)
    ).rowcount
    if not changed:
        db.session.rollback()
        db.session.refresh(voucher)
        if voucher.status == "cancelled":
            return voucher
        raise Conflict(f"A {voucher.status} voucher cannot be cancelled.", code="not_cancellable")
    record_audit("voucher.cancel", "voucher", voucher.id, data={"code": voucher.code},
                 merchant_id=campaign.merchant_id)  # fmt: skip
    db.session.commit()
    # Nothing to give back if Redis lost the claim; the audit reports the discrepancy. A retired
    # sale's pool is gone on purpose: SQL alone records the cancellation.
    if campaign.retired_at is None:
        with contextlib.suppress(ClaimNotFound, PoolNotFound):
            get_engine().cancel(campaign.pool_id, voucher.claim_id)
            if campaign.mode == "lottery":  # the ticket goes to the next on the waiting list
                from .handon import voucher_cancelled

                voucher_cancelled(campaign, voucher)
    # The ticket no longer counts against the member's monthly quota (once: a refunded hold).
    quotas.refund(campaign, voucher.member_id, voucher.request_id)
    db.session.refresh(voucher)
    return voucher
