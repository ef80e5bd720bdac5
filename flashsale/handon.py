"""After a lottery's draw: the waiting list, winners' confirmations and hand-ons
(docs/flashsale.md "Lottery: weights, confirmation, hand-ons").

A win passes to the next member of the waiting list when the winner cancels before the cancel
deadline, does not confirm within the sale's ``confirm_hours``, or when the merchant marks the
voucher unused before the sale's ``handon_until``. Every hand-on is the same three steps:

1. one transaction: the voucher ``issued`` -> ``cancelled`` and the entry's ``passed_at`` set,
   each by a conditional UPDATE (a racing redemption, confirmation or second hand-on makes one
   of them match no row, and the whole step is rolled back: it changes nothing);
2. the engine gives the stock back (once: the engine's cancel is idempotent) and the quota hold
   is refunded (once);
3. :func:`pass_on` hands the stock to the first ``waiting`` entries.

A crash between the steps leaves SQL ahead of the engine; the audit finishes the engine's
cancellation and the periodic :func:`sweep` hands any stock back in the pool to the waiting
list, so no ticket is lost and none is given twice (the engine decides who gets each unit).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from sqlalchemy import select, update

from inventory import RESERVED, ClaimNotFound, PoolNotFound
from marketplace.errors import Conflict, Gone, NotFound, Problem
from marketplace.extensions import db
from marketplace.models import record_audit, utcnow
from marketplace.notices import notify
from marketplace.vouchercodes import normalise_code

from . import quotas
from .hotpath import get_engine
from .lottery import EXCLUSION_CODES, WINNING, _reserve, take_quota
from .models import Campaign, LotteryDraw, LotteryEntry, Voucher

log = logging.getLogger(__name__)
PASS_REASONS = ("cancelled", "unconfirmed", "unused")


def _payload(campaign: Campaign, **extra) -> dict:
    return {"campaign_id": campaign.id, "title": campaign.title, **extra}


# -- the waiting list ------------------------------------------------------------------------


def pass_on(campaign: Campaign) -> int:
    """Give returned tickets to the next members of the waiting list; how many were handed on.

    Each step takes the first waiting entry with a conditional UPDATE (two racing hand-ons never
    pick the same member), counts the win against the member's quota (over quota or barred: the
    entry is excluded with its reason, published, and the next one is asked) and reserves for
    it; when the engine has no stock the entry goes back to waiting."""
    if campaign.mode != "lottery" or db.session.get(LotteryDraw, campaign.id) is None:
        return 0
    engine, handed = get_engine(), 0
    while True:
        nxt = db.session.scalar(
            select(LotteryEntry)
            .where(LotteryEntry.campaign_id == campaign.id, LotteryEntry.outcome == "waiting")
            .order_by(LotteryEntry.position)
            .limit(1)
        )  # fmt: skip
        if nxt is None:
            return handed
        entry_id, member_id = nxt.id, nxt.member_id
        took = db.session.execute(
            update(LotteryEntry)
            .where(LotteryEntry.id == entry_id, LotteryEntry.outcome == "waiting")
            .values(outcome="promoted")
        ).rowcount
        db.session.commit()
        if not took:
            continue
        try:
            hold = take_quota(campaign, member_id)
        except Problem as exc:
            if exc.code not in EXCLUSION_CODES:
                _back_to_waiting(entry_id)
                raise
            db.session.execute(update(LotteryEntry).where(LotteryEntry.id == entry_id)
                               .values(outcome="excluded", reason=exc.code))  # fmt: skip
            db.session.commit()
            notify(member_id, "lottery.excluded", _payload(campaign, reason=exc.code),
                   key=f"lottery:{campaign.id}:excluded")  # fmt: skip
            continue
        try:
            status = _reserve(engine, campaign, member_id)
        except PoolNotFound:
            status = "closed"
        if status == RESERVED:
            now = utcnow()
            hours = campaign.confirm_hours
            confirm_by = now + timedelta(hours=hours) if hours else None
            db.session.execute(update(LotteryEntry).where(LotteryEntry.id == entry_id)
                               .values(won_at=now, confirm_by=confirm_by))  # fmt: skip
            db.session.commit()
            notify(member_id, "lottery.promoted", _payload(campaign, confirm_hours=hours),
                   key=f"lottery:{campaign.id}:promoted")  # fmt: skip
            handed += 1
            continue
        quotas.finish(hold)
        _back_to_waiting(entry_id)
        return handed


def _back_to_waiting(entry_id: int) -> None:
    db.session.execute(
        update(LotteryEntry).where(LotteryEntry.id == entry_id).values(outcome="waiting")
    )
    db.session.commit()


# -- hand-ons --------------------------------------------------------------------------------


def _voucher_of(entry: LotteryEntry) -> Voucher | None:
    # populate_existing: a long-lived session (a job looping) must see the row as it is now.
    return db.session.scalar(
        select(Voucher)
        .where(Voucher.campaign_id == entry.campaign_id, Voucher.member_id == entry.member_id)
        .order_by(Voucher.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )  # fmt: skip


def hand_on(campaign: Campaign, entry: LotteryEntry, reason: str, actor=None) -> bool:
    """Pass ``entry``'s win on (steps in the module docstring); False when a racing redemption,
    confirmation or hand-on got there first, or the voucher is not in SQL yet (a later sweep
    tries again)."""
    voucher = _voucher_of(entry)
    if voucher is None or voucher.status != "issued":
        return False
    now = utcnow()
    conditions = [LotteryEntry.id == entry.id, LotteryEntry.passed_at.is_(None),
                  LotteryEntry.outcome.in_(WINNING)]  # fmt: skip
    if reason == "unconfirmed":
        conditions += [LotteryEntry.confirmed_at.is_(None), LotteryEntry.confirm_by <= now]
    cancelled = db.session.execute(
        update(Voucher).where(Voucher.id == voucher.id, Voucher.status == "issued")
        .values(status="cancelled", cancelled_at=now)
    ).rowcount  # fmt: skip
    passed = cancelled and db.session.execute(
        update(LotteryEntry).where(*conditions).values(passed_at=now, reason=reason)
    ).rowcount  # fmt: skip
    if not passed:
        db.session.rollback()
        return False
    record_audit("lottery.hand_on", "voucher", voucher.id, actor=actor,
                 merchant_id=campaign.merchant_id,
                 data={"code": voucher.code, "reason": reason, "entry": entry.id})  # fmt: skip
    db.session.commit()
    _give_back(campaign, voucher)
    notify(entry.member_id, "lottery.passed", _payload(campaign, reason=reason),
           key=f"lottery:{campaign.id}:passed")  # fmt: skip
    pass_on(campaign)
    return True


def _give_back(campaign: Campaign, voucher: Voucher) -> None:
    if campaign.retired_at is None:
        with contextlib.suppress(ClaimNotFound, PoolNotFound):
            get_engine().cancel(campaign.pool_id, voucher.claim_id)
    quotas.refund(campaign, voucher.member_id, voucher.request_id)


def voucher_cancelled(campaign: Campaign, voucher: Voucher) -> int:
    """A winner cancelled their voucher (flashsale.vouchers.cancel): the entry shows why, and the
    ticket goes to the next on the waiting list."""
    db.session.execute(
        update(LotteryEntry)
        .where(LotteryEntry.campaign_id == campaign.id,
               LotteryEntry.member_id == voucher.member_id,
               LotteryEntry.outcome.in_(WINNING), LotteryEntry.passed_at.is_(None))
        .values(passed_at=utcnow(), reason="cancelled")
    )  # fmt: skip
    db.session.commit()
    return pass_on(campaign)


# -- confirmation ----------------------------------------------------------------------------


def confirm(entry: LotteryEntry) -> LotteryEntry:
    """The winner confirms before ``confirm_by`` (idempotent). 409 ``not_a_winner``,
    ``no_confirmation_needed``, ``win_passed_on`` or ``confirm_deadline_passed``."""
    if entry.outcome not in WINNING:
        raise Conflict("Only a winner confirms.", code="not_a_winner")
    if entry.confirmed_at is not None:
        return entry
    if entry.passed_at is not None:
        raise Conflict("This win was passed on.", code="win_passed_on", reason=entry.reason)
    if entry.confirm_by is None:
        raise Conflict("This sale asks no confirmation.", code="no_confirmation_needed")
    now = utcnow()
    done = db.session.execute(
        update(LotteryEntry)
        .where(LotteryEntry.id == entry.id, LotteryEntry.confirmed_at.is_(None),
               LotteryEntry.passed_at.is_(None), LotteryEntry.confirm_by > now)
        .values(confirmed_at=now)
    ).rowcount  # fmt: skip
    db.session.commit()
    db.session.refresh(entry)
    if done or entry.confirmed_at is not None:
        return entry
    if entry.passed_at is not None:
        raise Conflict("This win was passed on.", code="win_passed_on", reason=entry.reason)
    raise Conflict("The time to confirm has passed.", code="confirm_deadline_passed",
                   confirm_by=entry.confirm_by.isoformat())  # fmt: skip


def expire_unconfirmed(limit: int = 1000) -> int:
    """Pass on every win not confirmed by its ``confirm_by`` (the scheduler, every 30 s; safe to
    run in many processes at once: each hand-on is decided by conditional UPDATEs)."""
    now = utcnow()
    rows = db.session.scalars(
        select(LotteryEntry)
        .where(LotteryEntry.confirm_by <= now, LotteryEntry.confirmed_at.is_(None),
               LotteryEntry.passed_at.is_(None), LotteryEntry.outcome.in_(WINNING))
        .order_by(LotteryEntry.confirm_by)
        .limit(limit)
        .execution_options(populate_existing=True)
    ).all()  # fmt: skip
    done = 0
    for entry in rows:
        campaign = db.session.get(Campaign, entry.campaign_id)
        voucher = _voucher_of(entry)
        if voucher is not None and voucher.status != "issued":
            _settle_used(entry, voucher)
            continue
        done += hand_on(campaign, entry, "unconfirmed")
    return done


def _settle_used(entry: LotteryEntry, voucher: Voucher) -> None:
    """A win whose voucher was redeemed counts as confirmed; a cancelled one was passed on by
    its member (so the sweep does not ask again)."""
    cond = (LotteryEntry.id == entry.id, LotteryEntry.confirmed_at.is_(None),
            LotteryEntry.passed_at.is_(None))  # fmt: skip
    if voucher.status == "redeemed":
        values = {"confirmed_at": voucher.redeemed_at or utcnow()}
    else:
        values = {"passed_at": voucher.cancelled_at or utcnow(), "reason": "cancelled"}
    db.session.execute(update(LotteryEntry).where(*cond).values(**values))
    db.session.commit()


def sweep() -> dict:
    """The periodic job: expire unconfirmed wins, then hand any stock back in a drawn lottery's
    pool (after a crash between the steps of a hand-on) to its waiting list."""
    expired = expire_unconfirmed()
    handed = 0
    now = utcnow()
    waiting = select(LotteryEntry.campaign_id).where(LotteryEntry.outcome == "waiting").distinct()
    ids = db.session.scalars(
        select(Campaign.id).join(LotteryDraw, LotteryDraw.campaign_id == Campaign.id)
        .where(LotteryDraw.entrants_hash.is_not(None), Campaign.retired_at.is_(None),
               Campaign.valid_until > now, Campaign.id.in_(waiting))
    ).all()  # fmt: skip
    engine = get_engine()
    for campaign_id in ids:
        try:
            if engine.stats(str(campaign_id)).remaining <= 0:
                continue
        except PoolNotFound:
            continue
        handed += pass_on(db.session.get(Campaign, campaign_id))
    return {"expired": expired, "handed": handed}


# -- the merchant ----------------------------------------------------------------------------


def winners(campaign: Campaign) -> list[dict]:
    """A lottery sale's winners for its merchant: entry, voucher and whether it may be handed on."""
    rows = db.session.execute(
        select(LotteryEntry, Voucher)
        .join(Voucher, (Voucher.campaign_id == LotteryEntry.campaign_id)
              & (Voucher.member_id == LotteryEntry.member_id), isouter=True)
        .where(LotteryEntry.campaign_id == campaign.id, LotteryEntry.outcome.in_(WINNING))
        .order_by(LotteryEntry.position)
    ).all()  # fmt: skip
    open_window = campaign.handon_until is not None and utcnow() <= campaign.handon_until
    return [
        {
            "ticket": e.ticket,
            "position": e.position,
            "outcome": e.outcome,
            "won_at": e.won_at,
            "confirm_by": e.confirm_by,
            "confirmed_at": e.confirmed_at,
            "passed_at": e.passed_at,
            "reason": e.reason,
            "code": v.code if v else None,
            "voucher_status": v.status if v else None,
            "can_mark_unused": bool(
                open_window and v and v.status == "issued" and e.passed_at is None
            ),
        }  # fmt: skip
        for e, v in rows
    ]


def mark_unused(campaign: Campaign, code: str, actor=None) -> LotteryEntry:
    """The merchant marks a lottery winner's voucher unused in time: the ticket passes on.
    409 ``not_lottery_sale`` / ``handon_not_allowed``, 410 ``handon_window_passed``,
    404 ``not_found`` (no such voucher of this sale), 409 ``not_handable`` (redeemed,
    cancelled or already passed on)."""
    if campaign.mode != "lottery":
        raise Conflict("This sale is not a lottery.", code="not_lottery_sale")
    if campaign.handon_until is None:
        raise Conflict("This sale does not allow hand-ons.", code="handon_not_allowed")
    if utcnow() > campaign.handon_until:
        raise Gone("The time to hand tickets on has passed.", code="handon_window_passed",
                   handon_until=campaign.handon_until.isoformat())  # fmt: skip
    voucher = db.session.scalar(select(Voucher).where(Voucher.code == normalise_code(code)))
    if voucher is None or voucher.campaign_id != campaign.id:
        raise NotFound("No such voucher in this sale.", code="not_found")
    entry = db.session.scalar(
        select(LotteryEntry).where(
            LotteryEntry.campaign_id == campaign.id, LotteryEntry.member_id == voucher.member_id
        )
    )
    if entry is None or entry.outcome not in WINNING:
        raise NotFound("No such voucher in this sale.", code="not_found")
    if not hand_on(campaign, entry, "unused", actor=actor):
        db.session.refresh(voucher)
        db.session.refresh(entry)
        raise Conflict(f"This ticket cannot be handed on (voucher {voucher.status}).",
                       code="not_handable", voucher_status=voucher.status,
                       passed=entry.passed_at is not None)  # fmt: skip
    db.session.refresh(entry)
    return entry
