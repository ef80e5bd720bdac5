"""Retire finished sales: delete their Redis pools once SQL holds every voucher and audits pass.

A pool keeps one hash field per claim and per request id for as long as it exists, so pools of
past sales would fill Redis over a year (``noeviction`` then refuses writes). A sale is retired
when it ended (or was cancelled) ``FLASHSALE_RETIRE_AFTER_SECONDS`` ago, its newest audit ran
after the end and passed, and its outbox has nothing unacknowledged (acknowledged = persisted).
Retiring deletes the pool's keys and its claim-path metadata and sets ``campaigns.retired_at``;
from then on SQL alone answers: member cancellations and redemptions only touch SQL,
:func:`flashsale.recovery.reconcile_pools` skips the sale, and its audit checks SQL alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, or_, select

from inventory import OutboxConsumer, PoolNotFound
from marketplace.extensions import db
from marketplace.models import utcnow

from . import room
from .hotpath import get_engine, sale_pools, write_meta
from .models import Campaign, CampaignAudit
from .settings import setting

log = logging.getLogger(__name__)


def _ended(campaign: Campaign):
    ends = campaign.ends_at
    if campaign.cancelled_at is not None and campaign.cancelled_at < ends:
        ends = campaign.cancelled_at
    return ends


def sales_to_retire(now=None) -> list[int]:
    """Ids of published sales over for the grace period, not retired, whose newest audit passed
    and ran after the sale ended."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=float(setting("FLASHSALE_RETIRE_AFTER_SECONDS")))
    newest = (
        select(CampaignAudit.campaign_id, func.max(CampaignAudit.id).label("audit_id"))
        .group_by(CampaignAudit.campaign_id)
        .subquery()
    )
    stmt = (
        select(Campaign, CampaignAudit)
        .join(newest, newest.c.campaign_id == Campaign.id)
        .join(CampaignAudit, CampaignAudit.id == newest.c.audit_id)
        .where(
            Campaign.published_at.is_not(None),
            Campaign.retired_at.is_(None),
            or_(Campaign.ends_at < cutoff, Campaign.cancelled_at < cutoff),
            CampaignAudit.ok.is_(True),
        )
        .order_by(Campaign.id)
    )
    return [c.id for c, audit in db.session.execute(stmt).all() if audit.ran_at >= _ended(c)]


def retire_sale(campaign_id: int, group: str) -> bool:
    """Retire one sale if its outbox is fully acknowledged by ``group``; True when retired."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.retired_at is not None:
        return False
    if campaign.mode == "lottery":  # not before its draw: the draw reserves in the pool
        from .models import LotteryDraw

        draw = db.session.get(LotteryDraw, campaign.id)
        if draw is not None and draw.entrants_hash is None and campaign.status != "cancelled":
            return False
    engine = get_engine()
    try:
        lag = OutboxConsumer(engine, group=group, consumer="retire").lag(campaign.pool_id)
    except PoolNotFound:
        lag = 0  # Redis holds nothing of it any more (lost or half-retired): SQL is all there is
    if lag:
        log.info("sale %s not retired yet: %s outbox entries unpersisted", campaign_id, lag)
        return False
    # SQL first: a crash after this commit leaves keys that the next retire_due sweeps, never a
    # pool that reconcile_pools could mistake for a live one and refill.
    campaign.retired_at = utcnow()
    db.session.commit()
    engine.retire_pool(campaign.pool_id)
    room.delete(campaign.id)  # a queue sale's waiting room (nothing for other modes)
    write_meta(campaign)  # retired: deletes the claim-path metadata (and this process's copy)
    log.info("sale %s retired: its Redis pool is deleted, SQL answers for it", campaign_id)
    return True


def retire_due(group: str) -> list[int]:
    """Retire every sale that is due (the scheduler runs it through flashsale.jobs), then sweep
    the keys of sales a retirer marked retired but was killed before deleting."""
    done = [cid for cid in sales_to_retire() if retire_sale(cid, group)]
    _sweep_half_retired()
    return done


def _sweep_half_retired() -> None:
    engine = get_engine()
    ids = [int(p) for p in sale_pools()]
    if not ids:
        return
    stmt = select(Campaign).where(Campaign.id.in_(ids), Campaign.retired_at.is_not(None))
    for campaign in db.session.scalars(stmt).all():
        engine.retire_pool(campaign.pool_id)
        write_meta(campaign)
        log.warning("sale %s: swept the keys a killed retirer left behind", campaign.id)
