"""What flash sales tell members through the messages feature, without importing it
(:mod:`marketplace.notices`): a sale is a subject members can ask to be reminded of, and unused
vouchers about to expire are a source of "expires soon" notices. Receipts and lottery results are
sent where they happen (``redemption.redeem``, ``lottery.run_draw``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from marketplace import notices
from marketplace.extensions import db
from marketplace.models import utcnow

from .models import Campaign, Voucher


def sale_subject(campaign_id: int) -> notices.Subject | None:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status == "draft":
        return None
    active = campaign.status not in ("cancelled", "ended") and utcnow() < campaign.ends_at
    return notices.Subject("sale", campaign.id, campaign.title, campaign.starts_at, active)


def expiring(start: datetime, end: datetime):
    rows = db.session.execute(
        select(Voucher.id, Voucher.member_id, Voucher.valid_until, Campaign.title)
        .join(Campaign, Campaign.id == Voucher.campaign_id)
        .where(Voucher.status == "issued", Voucher.valid_until > start, Voucher.valid_until <= end)
    )
    for voucher_id, member_id, valid_until, title in rows:
        payload = {"voucher_id": voucher_id, "title": title, "date": valid_until.date().isoformat()}
        yield member_id, payload, f"expiring:sale-voucher:{voucher_id}"


def register(app) -> None:
    notices.add_subject(app, "sale", sale_subject)
    notices.add_expiring_source(app, expiring)
