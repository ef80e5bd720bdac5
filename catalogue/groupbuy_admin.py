"""Group-buy services for merchants: create (opening the stock pool and scheduling the deadline
job), list their own, and redeem group-buy vouchers at the counter."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager, joinedload

from marketplace import permissions
from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db, get_queue
from marketplace.merchants import Merchant
from marketplace.models import record_audit, utcnow
from marketplace.pagination import Page, paginate
from marketplace.vouchercodes import normalise_code

from . import search
from .directory import require_active
from .models import GroupBuy, GroupBuyVoucher
from .pools import ensure_pool
from .visibility import city_of


def create_groupbuy(merchant: Merchant, actor, data: dict) -> GroupBuy:
    require_active(merchant, "groupbuy.create")
    _validate(data)
    regions = data.pop("regions", [])
    deal = GroupBuy(merchant_id=merchant.id, city=city_of(merchant.region) or "", **data)
    deal.regions = regions
    deal.search_text = search.normalise(
        deal.title, deal.title_en, deal.description, merchant.name_zh, merchant.name_en
    )
    db.session.add(deal)
    db.session.flush()
    record_audit(
        "groupbuy.created",
        "groupbuy",
        deal.id,
        actor=actor,
        merchant_id=merchant.id,
        data={"mode": deal.mode, "max": deal.max_participants},
    )
    db.session.commit()
    ensure_pool(deal)
    schedule("decide_groupbuy", deal.deadline, deal.id, f"gb-decide-{deal.id}")
    return deal


def _validate(data: dict) -> None:
    errors: dict[str, list[str]] = {}
    if data["deadline"] <= data["opens_at"]:
        errors["deadline"] = ["Must be after opens_at."]
    if data["deadline"] <= utcnow():
        errors.setdefault("deadline", []).append("Must be in the future.")
    if data["voucher_valid_until"] <= data["deadline"]:
        errors["voucher_valid_until"] = ["Must be after the deadline."]
    if data["max_participants"] < data["min_participants"]:
        errors["max_participants"] = ["Must be at least min_participants."]
    if data["member_price_cents"] > data["usual_price_cents"]:
        errors["member_price_cents"] = ["Must not exceed the usual price."]
    if data["mode"] == "team":
        size = data.get("team_size")
        if not size or not data.get("team_window_seconds"):
            errors["team_size"] = ["Team deals need team_size and team_window_seconds."]
        elif data["max_participants"] < size:
            errors["max_participants"] = ["Must hold at least one team."]
        if data.get("per_member_limit", 1) != 1:
            errors["per_member_limit"] = ["Team deals allow one place per member."]
    if errors:
        raise ValidationFailed(errors=errors)


def schedule(job: str, when, arg: int, job_id: str) -> None:
    """The deadline job; a periodic sweep (jobs.sweep) catches any job that never ran."""
    get_queue().enqueue_at(when, f"catalogue.jobs.{job}", arg, job_id=job_id)


def own_groupbuy(merchant: Merchant, deal_id: int) -> GroupBuy:
    return permissions.own(db.session.get(GroupBuy, deal_id), merchant.id, "group-buy")


def merchant_groupbuys(merchant: Merchant, page: int, per_page: int) -> Page:
    stmt = (
        select(GroupBuy)
        .options(joinedload(GroupBuy.merchant))
        .where(GroupBuy.merchant_id == merchant.id)
        .order_by(GroupBuy.id.desc())
    )
    return paginate(stmt, page, per_page)


def merchant_voucher(merchant: Merchant, code: str) -> GroupBuyVoucher:
    """A group-buy voucher of one of this merchant's deals (404 otherwise, never a hint)."""
    voucher = db.session.execute(
        select(GroupBuyVoucher)
        .join(GroupBuy, GroupBuy.id == GroupBuyVoucher.groupbuy_id)
        .options(contains_eager(GroupBuyVoucher.groupbuy))
        .where(GroupBuyVoucher.code == normalise_code(code), GroupBuy.merchant_id == merchant.id)
    ).scalar_one_or_none()
    if voucher is None:
        raise NotFound("No such voucher at this merchant.", code="voucher_not_found")
    return voucher


def redeem_voucher(merchant: Merchant, code: str, account_id: int) -> GroupBuyVoucher:
    """Counter redemption of a group-buy voucher; only the deal's merchant may redeem it."""
    voucher = merchant_voucher(merchant, code)
    now = utcnow()
    if voucher.status == "issued" and now > voucher.valid_until:
        raise Conflict("The voucher has expired.", code="voucher_expired")
    done = db.session.execute(
        update(GroupBuyVoucher)
        .where(GroupBuyVoucher.id == voucher.id, GroupBuyVoucher.status == "issued")
        .values(status="redeemed", redeemed_at=now, redeemed_by=account_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        db.session.rollback()
        raise Conflict("The voucher was already redeemed.", code="already_redeemed")
    record_audit(
        "groupbuy_voucher.redeemed",
        "groupbuy_voucher",
        voucher.id,
        merchant_id=merchant.id,
        data={"by": account_id},
    )
    db.session.commit()
    db.session.refresh(voucher)
    return voucher


def participants(deal: GroupBuy, limit: int = 500) -> list[tuple]:
    """The deal's places, newest first, with the member's name for the merchant's list."""
    from marketplace.members.models import Member

    from .models import GroupBuyParticipant

    return list(
        db.session.execute(
            select(GroupBuyParticipant, Member.name)
            .join(Member, Member.id == GroupBuyParticipant.member_id)
            .where(GroupBuyParticipant.groupbuy_id == deal.id)
            .order_by(GroupBuyParticipant.id.desc())
            .limit(limit)
        ).all()
    )
