"""Campaign lifecycle for merchants: create, patch, publish (loads the engine), cancel, stats."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from sqlalchemy import func, select

from inventory import PoolNotFound, StockBelowClaimed
from marketplace import permissions
from marketplace.errors import Conflict, ValidationFailed
from marketplace.extensions import db, get_queue
from marketplace.models import record_audit, utcnow
from marketplace.notices import subject_changed
from marketplace.permissions import Actor

from . import lottery, room
from .hotpath import get_engine, write_meta
from .memory import sale_bytes
from .models import Campaign, Voucher
from .redemption import REVERT_WINDOW, already_redeemed, merchant_voucher, redeem, revert

# This module is the flash sale's public face for other features (the merchant portal): they
# import it, ``flashsale.models`` and ``flashsale.schemas`` only (import contracts in
# pyproject.toml). The redemption and memory functions are re-exported for them.
__all__ = [
    "REVERT_WINDOW",
    "already_redeemed",
    "merchant_voucher",
    "redeem",
    "republish_merchant_sales",
    "revert",
    "sale_bytes",
]

EDITABLE = {
    "title", "title_en", "description", "description_en", "category", "venue", "image_url",
    "total_stock", "per_member_limit", "starts_at", "ends_at", "valid_from", "valid_until",
    "cancel_deadline", "regions", "require_active_card", "mode", "queue_opens_at",
    "admission_rate", "over_admission", "hardship_weight", "loss_weight", "loss_days",
    "loss_cap", "confirm_hours", "handon_until",
}  # fmt: skip
LOTTERY_ONLY = ("hardship_weight", "loss_weight", "loss_days", "loss_cap", "confirm_hours",
                "handon_until")  # fmt: skip
# Fixed once the sale is published (members chose how to take part by it).
PUBLISHED_FIXED = {"mode"}
# The waiting room's defaults (docs/flashsale.md "Waiting room").
QUEUE_OPENS_BEFORE = timedelta(minutes=15)
DEFAULT_ADMISSION_RATE = 20.0
DEFAULT_OVER_ADMISSION = 1.2
# Once a sale is live only its stock may grow; everything members already saw stays as it was.
LIVE_EDITABLE = {"total_stock", "admission_rate"}


def effective_status(campaign: Campaign, now: datetime | None = None, remaining=None) -> str:
    """The status members and merchants see: the stored lifecycle plus the clock and the stock."""
    if campaign.status in ("draft", "cancelled", "ended"):
        return campaign.status
    now = now or utcnow()
    if now >= campaign.ends_at:
        return "ended"
    if now < campaign.starts_at:
        return "scheduled"
    if remaining == 0:
        return "sold_out"
    return "live"


def queue_opens_at(campaign) -> datetime | None:
    """When members may join a queue sale's waiting room (None for other modes)."""
    if campaign.mode != "queue":
        return None
    return campaign.queue_opens_at or campaign.starts_at - QUEUE_OPENS_BEFORE


def check_times(values: dict) -> None:
    errors = {}
    mode = values.get("mode") or "first_come"
    if mode in ("queue", "lottery") and values.get("per_member_limit", 1) != 1:
        errors["per_member_limit"] = ["Must be 1 in queue and lottery modes (one ticket each)."]
    opens = values.get("queue_opens_at")
    if opens and values.get("starts_at") and opens > values["starts_at"]:
        errors["queue_opens_at"] = ["Must not be after starts_at."]
    if mode != "lottery":
        for name in LOTTERY_ONLY:
            if values.get(name) is not None:
                errors[name] = ["Only lottery sales have this setting."]
    handon = values.get("handon_until")
    if handon and values.get("ends_at") and handon < values["ends_at"]:
        errors["handon_until"] = ["Must not be before ends_at."]
    if handon and values.get("valid_until") and handon > values["valid_until"]:
        errors.setdefault("handon_until", []).append("Must not be after valid_until.")
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts and ends and ends <= starts:
        errors["ends_at"] = ["Must be after starts_at."]
    vf, vu = values.get("valid_from"), values.get("valid_until")
    if vf and vu and vu <= vf:
        errors["valid_until"] = ["Must be after valid_from."]
    if vu and ends and vu < ends:
        errors.setdefault("valid_until", []).append("Must not be before ends_at.")
    stock, limit = values.get("total_stock"), values.get("per_member_limit")
    if stock is not None and limit and limit > max(stock, 1):
        errors["per_member_limit"] = ["Must not exceed total_stock."]
    if errors:
        raise ValidationFailed(errors=errors)


def _values(campaign: Campaign) -> dict:
    return {name: getattr(campaign, name) for name in EDITABLE}


def visible_sales():
    """What members see: live and upcoming sales (published, not cancelled, not ended),
    soonest first, as a ``select`` to paginate."""
    return (
        select(Campaign)
        .where(
            Campaign.status.in_(("scheduled", "live", "sold_out")), Campaign.ends_at > utcnow()
        )  # fmt: skip
        .order_by(Campaign.starts_at, Campaign.id)
    )


def published_sale(campaign_id: int) -> Campaign | None:
    """One sale a member may open (drafts are invisible), or None."""
    campaign = db.session.get(Campaign, campaign_id)
    return None if campaign is None or campaign.status == "draft" else campaign


def with_remaining(campaigns):
    """Set ``live_remaining`` (the engine's count) on each sale; returns the same list."""
    remaining = remaining_of(campaigns)
    for c in campaigns:
        c.live_remaining = remaining.get(c.id)
    return campaigns


def get_own(merchant_id: int, campaign_id: int) -> Campaign:
    return permissions.own(db.session.get(Campaign, campaign_id), merchant_id, "campaign")


def list_own(merchant_id: int):
    return (
        select(Campaign)
        .where(Campaign.merchant_id == merchant_id)
        .order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    )


def require_selling(merchant_id: int, action: str) -> None:
    """The selling rule (:func:`marketplace.permissions.check_selling`) for this merchant."""
    from marketplace.merchants import Merchant

    merchant = db.session.get(Merchant, merchant_id) if merchant_id else None
    permissions.check_selling(merchant, action)


def create(principal, data: dict) -> Campaign:
    require_selling(principal.merchant_id, "sale.create")
    check_times(data)
    campaign = Campaign(merchant_id=principal.merchant_id, status="draft", **data)
    db.session.add(campaign)
    db.session.flush()
    record_audit("campaign.create", "campaign", campaign.id, actor=Actor(principal),
                 merchant_id=principal.merchant_id)  # fmt: skip
    db.session.commit()
    return campaign


def patch(principal, campaign_id: int, data: dict) -> Campaign:
    campaign = get_own(principal.merchant_id, campaign_id)
    require_selling(principal.merchant_id, "sale.edit")
    status = effective_status(campaign)
    if status not in ("draft", "scheduled", "live", "sold_out"):
        raise Conflict(f"A {status} campaign cannot be changed.", code="not_editable")
    changed = {k for k in PUBLISHED_FIXED & set(data) if data[k] != getattr(campaign, k)}
    if status != "draft" and changed:
        raise Conflict(
            "The sale mode cannot change once the sale is published.",
            code="mode_locked", fields=sorted(changed),
        )  # fmt: skip
    fixed = {"starts_at", "ends_at", "per_member_limit", "valid_until", *LOTTERY_ONLY} & set(data)
    if campaign.mode == "lottery" and status != "draft" and fixed:
        raise Conflict(
            "A published lottery keeps its window and its stated rules (weights, "
            "confirmation, hand-ons): its beacon round is named after them.",
            code="not_editable", fields=sorted(fixed),
        )  # fmt: skip
    if status in ("live", "sold_out"):
        extra = set(data) - LIVE_EDITABLE
        if extra:
            raise Conflict(
                "Once a sale is live only total_stock may change.",
                code="not_editable", fields=sorted(extra),
            )  # fmt: skip
        if data.get("total_stock", campaign.total_stock) < campaign.total_stock:
            raise Conflict("A live sale's stock can only grow.", code="stock_decrease")
    merged = {**_values(campaign), **data}
    check_times(merged)
    if status != "draft":
        if "total_stock" in data:
            try:
                get_engine().restock(campaign.pool_id, data["total_stock"])
            except StockBelowClaimed as exc:
                raise Conflict(str(exc), code="stock_below_claimed") from None
        if {"starts_at", "ends_at", "per_member_limit"} & set(data):
            _reopen(campaign, merged)
    for name, value in data.items():
        setattr(campaign, name, value)
    record_audit("campaign.patch", "campaign", campaign.id, actor=Actor(principal),
                 merchant_id=campaign.merchant_id, data=_jsonable(data))  # fmt: skip
    db.session.commit()
    if "starts_at" in data:
        subject_changed("sale", campaign.id)  # reminders follow the new opening time
    if status != "draft":
        write_meta(campaign)
        # A new rate applies from now on: what accrued so far is settled at the old one.
        settled = "admission_rate" in data and room.set_rate(
            campaign.id, campaign.admission_rate or DEFAULT_ADMISSION_RATE
        )
        room.configure(campaign, rate=not settled)
    return campaign


def set_admission_rate(principal, campaign_id: int, rate: float) -> Campaign:
    """A queue sale's admissions per second, changed at once in its room (also while live).
    ``principal`` None: the operator's CLI (any merchant's sale, audited without an actor)."""
    if principal is None:
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None:
            raise LookupError(f"no sale {campaign_id}")
    else:
        campaign = get_own(principal.merchant_id, campaign_id)
    if campaign.mode != "queue":
        raise Conflict("This sale has no waiting room.", code="not_queue_sale")
    status = effective_status(campaign)
    if status in ("ended", "cancelled"):
        raise Conflict(f"A {status} campaign cannot be changed.", code="not_editable")
    old = campaign.admission_rate
    campaign.admission_rate = float(rate)
    record_audit("campaign.queue_rate", "campaign", campaign.id,
                 actor=Actor(principal) if principal else None,
                 merchant_id=campaign.merchant_id, data={"from": old, "to": rate})  # fmt: skip
    db.session.commit()
    if campaign.status != "draft":
        room.set_rate(campaign.id, rate)
    return campaign


def _reopen(campaign: Campaign, merged: dict) -> None:
    """A scheduled sale's window or limit changed: no claim exists yet, so rebuild the pool."""
    engine = get_engine()
    engine.rebuild(
        campaign.pool_id, [], merged["total_stock"], merged["per_member_limit"],
        merged["starts_at"], merged["ends_at"],
    )  # fmt: skip


def publish(principal, campaign_id: int) -> Campaign:
    campaign = get_own(principal.merchant_id, campaign_id)
    if campaign.status != "draft":
        raise Conflict(f"The campaign is already {effective_status(campaign)}.",
                       code="already_published")  # fmt: skip
    now = utcnow()
    if campaign.ends_at <= now:
        raise Conflict("The sale's end is in the past.", code="ends_in_past")
    require_selling(campaign.merchant_id, "sale.publish")
    opens, closes = pool_window(campaign)
    get_engine().open_pool(
        campaign.pool_id, campaign.total_stock, campaign.per_member_limit, opens, closes,
    )  # fmt: skip
    room.configure(campaign)
    if campaign.mode == "lottery":
        lottery.prepare(campaign)
    campaign.status = "scheduled"
    campaign.published_at = now
    record_audit("campaign.publish", "campaign", campaign.id, actor=Actor(principal),
                 merchant_id=campaign.merchant_id)  # fmt: skip
    db.session.commit()
    write_meta(campaign)
    schedule_audit(campaign)
    if campaign.mode == "lottery":
        schedule_draw(campaign)
    return campaign


def pool_window(campaign: Campaign):
    """When the engine pool takes reserves: the sale window, or for a lottery from the close
    (only the draw and its waiting list reserve) on."""
    if campaign.mode == "lottery":
        return lottery.pool_window(campaign)
    return campaign.starts_at, campaign.ends_at


def schedule_draw(campaign: Campaign) -> None:
    """Draw a lottery a few seconds after its beacon round is out (flashsale.jobs.draw_lottery)."""
    from datetime import UTC

    from .beacon import round_after, round_time
    from .jobs import draw_lottery

    at = datetime.fromtimestamp(round_time(round_after(campaign.ends_at.timestamp())) + 5, UTC)
    get_queue("low").enqueue_at(at, draw_lottery, campaign.id,
                                job_id=f"draw-campaign-{campaign.id}")  # fmt: skip


def schedule_audit(campaign: Campaign) -> None:
    """Audit the sale shortly after it ends (the periodic sweep catches anything RQ lost)."""
    from datetime import timedelta

    from .jobs import audit_campaign

    get_queue("low").enqueue_at(
        campaign.ends_at + timedelta(seconds=30), audit_campaign, campaign.id,
        job_id=f"audit-campaign-{campaign.id}-{int(campaign.ends_at.timestamp())}",
    )  # fmt: skip


def cancel(principal, campaign_id: int) -> Campaign:
    campaign = get_own(principal.merchant_id, campaign_id)
    if campaign.status == "cancelled":
        return campaign
    if effective_status(campaign) == "ended":
        raise Conflict("The sale has already ended.", code="already_ended")
    if campaign.status != "draft":
        with contextlib.suppress(PoolNotFound):
            get_engine().close_pool(campaign.pool_id)
    campaign.status = "cancelled"
    campaign.cancelled_at = utcnow()
    record_audit("campaign.cancel", "campaign", campaign.id, actor=Actor(principal),
                 merchant_id=campaign.merchant_id)  # fmt: skip
    db.session.commit()
    write_meta(campaign)
    subject_changed("sale", campaign.id)  # its "remind me" reminders are cancelled
    return campaign


def stats(campaign: Campaign) -> dict:
    """Live numbers: engine stock and claims, SQL persisted / redeemed / cancelled."""
    counts = dict(
        db.session.execute(
            select(Voucher.status, func.count())
            .where(Voucher.campaign_id == campaign.id)
            .group_by(Voucher.status)
        ).all()
    )
    out = {
        "stock": campaign.total_stock,
        "remaining": campaign.total_stock,
        "claimed": 0,
        "persisted": sum(counts.values()),
        "redeemed": counts.get("redeemed", 0),
        "cancelled": counts.get("cancelled", 0),
    }
    if campaign.retired_at is not None:  # its pool is gone: SQL holds every voucher
        claimed = out["persisted"] - out["cancelled"]
        out.update(remaining=max(campaign.total_stock - claimed, 0), claimed=claimed)
    elif campaign.status != "draft":
        try:
            pool = get_engine().stats(campaign.pool_id)
            out.update(stock=pool.total, remaining=pool.remaining, claimed=pool.claimed)
        except PoolNotFound:
            pass
    return out


def remaining_of(campaigns) -> dict[int, int]:
    """Remaining stock per published campaign in one pipeline (for lists)."""
    engine = get_engine()
    ids = [c for c in campaigns if c.status != "draft" and c.retired_at is None]
    if not ids:
        return {}
    pipe = engine.client.pipeline(transaction=False)
    for c in ids:
        pipe.hget(engine.keys(c.pool_id).pool, "stock")
    return {
        c.id: int(v) if v is not None else c.total_stock
        for c, v in zip(ids, pipe.execute(), strict=True)
    }


def _jsonable(data: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def lottery_winners(campaign: Campaign) -> list[dict]:
    """A lottery sale's winners for its merchant (flashsale.handon.winners)."""
    from .handon import winners

    return winners(campaign) if campaign.mode == "lottery" else []


def mark_unused(principal, campaign_id: int, code: str):
    """The merchant marks a lottery winner's voucher unused in time (flashsale.handon)."""
    from .handon import mark_unused as run

    return run(get_own(principal.merchant_id, campaign_id), code, actor=Actor(principal))


def republish_merchant_sales(merchant_id: int) -> int:
    """Rewrite the claim path's metadata of a merchant's published sales (after its status
    changed: suspended merchants cannot sell). Returns how many sales were rewritten."""
    campaigns = db.session.scalars(
        select(Campaign).where(
            Campaign.merchant_id == merchant_id,
            Campaign.status.in_(("scheduled", "live", "sold_out")),
            Campaign.retired_at.is_(None),  # retired: Redis keeps nothing of the sale
        )
    ).all()
    for campaign in campaigns:
        write_meta(campaign)
    return len(campaigns)
