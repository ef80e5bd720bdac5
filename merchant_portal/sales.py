"""Sales management on top of ``flashsale.services``: the same lifecycle calls the flash-sale API
makes, after the permission table's checks (:mod:`marketplace.permissions`), plus top-up,
duplicate and covers."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from flask import current_app

from flashsale import services as fs
from flashsale.models import Campaign
from marketplace import permissions
from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.images import sniff_image
from marketplace.models import record_audit, utcnow
from marketplace.permissions import Actor

from .models import CoverImage

COPIED = (
    "title", "title_en", "description", "description_en", "category", "venue", "image_url",
    "total_stock", "per_member_limit", "require_active_card", "regions", "mode",
    "admission_rate", "over_admission", "hardship_weight", "loss_weight", "loss_days",
    "loss_cap", "confirm_hours",
)  # fmt: skip
TIMES = ("starts_at", "ends_at", "valid_from", "valid_until", "cancel_deadline", "queue_opens_at",
         "handon_until")  # fmt: skip


def own_sale(principal, campaign_id: int, action: str = "sale.view") -> Campaign:
    """One of the caller's merchant's sales, for ``action`` (another merchant's: 404)."""
    merchant = permissions.staff_merchant(principal, action)
    return fs.get_own(merchant.id, campaign_id)


def _checked_sale(principal, campaign_id: int, action: str) -> Campaign:
    """The caller's sale for ``action``: merchant scope first, then the selling rule."""
    campaign = own_sale(principal, campaign_id, action)  # another merchant's sale: 404 first
    permissions.check_selling(campaign.merchant, action)
    return campaign


def create(principal, data: dict) -> Campaign:
    permissions.merchant_for(principal, "sale.create")
    return fs.create(principal, data)


def update(principal, campaign_id: int, data: dict) -> Campaign:
    _checked_sale(principal, campaign_id, "sale.edit")
    return fs.patch(principal, campaign_id, data)


def publish(principal, campaign_id: int) -> Campaign:
    _checked_sale(principal, campaign_id, "sale.publish")
    return fs.publish(principal, campaign_id)


def cancel(principal, campaign_id: int) -> Campaign:
    _checked_sale(principal, campaign_id, "sale.cancel")  # suspended merchants may withdraw sales
    return fs.cancel(principal, campaign_id)


def lottery_winners(principal, campaign: Campaign) -> list[dict]:
    """A lottery's winners, for owners (the permission table's ``sale.handon``)."""
    if campaign.mode != "lottery" or not permissions.allows(principal.role, "sale.handon"):
        return []
    return fs.lottery_winners(campaign)


def mark_unused(principal, campaign_id: int, code: str) -> None:
    own_sale(principal, campaign_id, "sale.handon")  # another merchant's sale: 404 first
    fs.mark_unused(principal, campaign_id, code)


def top_up(principal, campaign_id: int, add: int) -> Campaign:
    """Grow the stock by ``add`` tickets (live sales included; the engine restocks atomically)."""
    if not isinstance(add, int) or not 1 <= add <= 1_000_000:
        raise ValidationFailed(errors={"add": ["Between 1 and 1,000,000 tickets."]})
    campaign = _checked_sale(principal, campaign_id, "sale.top_up")
    return update(principal, campaign_id, {"total_stock": campaign.total_stock + add})


def duplicate(principal, campaign_id: int) -> Campaign:
    """A draft copy of a sale, its times moved forward by whole weeks (same weekday and hour)."""
    source = _checked_sale(principal, campaign_id, "sale.duplicate")
    now = utcnow()
    weeks = max(1, math.ceil((now - source.starts_at) / timedelta(weeks=1)))
    shift = timedelta(weeks=weeks)
    data = {name: getattr(source, name) for name in COPIED}
    for name in TIMES:
        value = getattr(source, name)
        data[name] = value + shift if value is not None else None
    campaign = create(principal, data)
    record_audit("campaign.duplicate", "campaign", campaign.id, actor=Actor(principal),
                 merchant_id=campaign.merchant_id, data={"from": source.id})  # fmt: skip
    db.session.commit()
    return campaign


def save_cover(principal, data: bytes) -> CoverImage:
    """Store a cover picture after checking its size and (by its bytes, not its name) type."""
    merchant = permissions.merchant_for(principal, "cover.upload")
    limit = int(current_app.config.get("COVER_MAX_BYTES", 512 * 1024))
    if not data:
        raise ValidationFailed(errors={"cover": ["The file is empty."]})
    if len(data) > limit:
        raise ValidationFailed(errors={"cover": [f"At most {limit // 1024} KB."]},
                               code="cover_too_large")  # fmt: skip
    mime = sniff_image(data)
    if mime is None:
        raise ValidationFailed(errors={"cover": ["A JPEG, PNG or WebP picture."]},
                               code="cover_type")  # fmt: skip
    image = CoverImage(merchant_id=merchant.id, content_type=mime, size=len(data),
                       sha256=hashlib.sha256(data).hexdigest(), data=data)  # fmt: skip
    db.session.add(image)
    db.session.flush()
    record_audit("cover.upload", "cover_image", image.id, actor=Actor(principal),
                 merchant_id=merchant.id, data={"size": len(data), "type": mime})  # fmt: skip
    db.session.commit()
    return image


def get_cover(image_id: int) -> CoverImage:
    image = db.session.get(CoverImage, image_id)
    if image is None:
        raise NotFound("No such image.")
    return image
