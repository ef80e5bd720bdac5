"""What the claim endpoint needs without SQL: the engine, cached campaign metadata, the budget.

Campaign metadata lives in a small Redis hash per campaign (``<ns>:fs:meta:<id>``), written by the
services on publish / patch / cancel / merchant suspension, and in a per-process dict for
``FLASHSALE_META_TTL`` seconds (default 1 s). A change therefore reaches every web process within
that TTL; cancellation also closes the engine pool, which refuses claims at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from inventory import StockEngine
from marketplace.engines import built_engine, engine_for
from marketplace.extensions import get_redis

from .settings import setting

log = logging.getLogger(__name__)

FEATURE = "flashsale"


def get_engine() -> StockEngine:
    """The flash sales' stock engine (:func:`marketplace.engines.engine_for`): pools named by
    campaign id in the base namespace, with the in-process sold-out cache."""
    engine = built_engine(FEATURE)  # every claim asks: the cache's TTL is read only to build it
    if engine is not None:
        return engine
    return engine_for(FEATURE, local_cache_ttl=float(setting("FLASHSALE_SOLDOUT_CACHE_SECONDS")))


def sale_pools() -> list[str]:
    """The pools in the flash-sale namespace, by sale id: what drainers, retirement and memory
    accounting walk.

    Every pool a flash sale opens is named by its campaign id. An id of another form is not a
    sale's: the group-buy pools (``gb-<id>``) that versions before per-feature namespaces kept
    here, until ``shihui catalogue rebuild`` deletes them (docs/operations.md). Those are skipped
    unread, with one warning per process, so no flash-sale consumer reads another feature's entries.
    """
    ids, foreign = [], []
    for pool_id in get_engine().active_pools():
        (ids if pool_id.isdigit() else foreign).append(pool_id)
    seen = current_app.extensions.setdefault("flashsale.foreign_pools", set())
    if set(foreign) - seen:
        seen.update(foreign)
        log.warning(
            "pools %s in the flash-sale namespace are not sales (group-buy pools of an older "
            "version?): skipped; `shihui catalogue rebuild` moves them",
            sorted(foreign),
        )
    return sorted(ids, key=int)


@dataclass(frozen=True, slots=True)
class CampaignMeta:
    id: int
    merchant_id: int
    status: str  # stored lifecycle: scheduled / cancelled / ended ... (never draft here)
    starts_at: float  # epoch seconds
    ends_at: float
    per_member_limit: int
    regions: frozenset[str] | None
    require_active_card: bool
    merchant_active: bool
    valid_from: str  # ISO 8601, what the 201 returns
    valid_until: str
    mode: str = "first_come"  # docs/flashsale.md "Sale modes"
    category: str = ""  # what union quotas and no-show bans are counted by

    @property
    def available(self) -> bool:
        return self.status not in ("draft", "cancelled") and self.merchant_active


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def meta_key(campaign_id: int) -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:fs:meta:{campaign_id}"


def write_meta(campaign) -> None:
    """Publish the campaign's hot-path metadata (drafts are removed: members cannot see them)."""
    client = get_redis()
    if campaign.status == "draft" or campaign.retired_at is not None:
        client.delete(meta_key(campaign.id))  # retired: Redis keeps nothing of the sale
    else:
        client.hset(meta_key(campaign.id), mapping=_meta_fields(campaign))
    _local_cache().pop(campaign.id, None)


def _meta_fields(campaign) -> dict:
    return {
        "merchant_id": campaign.merchant_id,
        "status": campaign.status,
        "starts_at": campaign.starts_at.timestamp(),
        "ends_at": campaign.ends_at.timestamp(),
        "limit": campaign.per_member_limit,
        "regions": ",".join(campaign.regions or []),
        "card": int(campaign.require_active_card),
        "merchant_active": int(campaign.merchant.status == "approved"),
        "valid_from": _iso(campaign.valid_from),
        "valid_until": _iso(campaign.valid_until),
        "mode": campaign.mode,
        "category": campaign.category,
    }


def _parse(campaign_id: int, raw: dict) -> CampaignMeta:
    f = {_str(k): _str(v) for k, v in raw.items()}
    regions = frozenset(r for r in f["regions"].split(",") if r)
    return CampaignMeta(
        id=campaign_id,
        merchant_id=int(f["merchant_id"]),
        status=f["status"],
        starts_at=float(f["starts_at"]),
        ends_at=float(f["ends_at"]),
        per_member_limit=int(f["limit"]),
        regions=regions or None,
        require_active_card=f["card"] == "1",
        merchant_active=f["merchant_active"] == "1",
        valid_from=f["valid_from"],
        valid_until=f["valid_until"],
        mode=f.get("mode", "first_come"),
        category=f.get("category", ""),
    )


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_lock = threading.Lock()


def _local_cache() -> dict:
    return current_app.extensions.setdefault("flashsale.meta", {})


def campaign_meta(campaign_id: int) -> CampaignMeta | None:
    """Metadata of a published campaign, or None (unknown or draft). SQL only when Redis lost it."""
    cache = _local_cache()
    now = time.monotonic()
    hit = cache.get(campaign_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    raw = get_redis().hgetall(meta_key(campaign_id))
    meta = _parse(campaign_id, raw) if raw else _refill_from_sql(campaign_id)
    ttl = float(setting("FLASHSALE_META_TTL"))
    with _lock:
        if len(cache) > 10_000:  # ids that never existed must not grow the dict without bound
            cache.clear()
        cache[campaign_id] = (now + ttl, meta)
    return meta


def _refill_from_sql(campaign_id: int) -> CampaignMeta | None:
    from marketplace.extensions import db

    from .models import Campaign

    campaign = db.session.get(Campaign, campaign_id)
    try:
        if campaign is None or campaign.status == "draft":
            return None
        if campaign.retired_at is not None:  # answer from SQL; writing it back would leak keys
            return _parse(campaign_id, _meta_fields(campaign))
        write_meta(campaign)
        raw = get_redis().hgetall(meta_key(campaign_id))
        return _parse(campaign_id, raw)
    finally:
        db.session.remove()


def claim_budget() -> tuple[float | None, float]:
    """``(rate, burst)`` of the per-member claim budget that the engine's reserve script enforces
    across every web process (``FLASHSALE_CLAIM_RATE`` 0 turns it off: ``(None, 1)``).

    Every claim asks, so the answer is kept per raw value of the two settings (config, then
    environment, as :func:`~flashsale.settings.setting` reads them): a change to either is seen
    on the next claim, and the conversions run once per change."""
    config = current_app.config
    raw = (
        config.get("FLASHSALE_CLAIM_RATE"),
        config.get("FLASHSALE_CLAIM_BURST"),
        os.environ.get("FLASHSALE_CLAIM_RATE"),
        os.environ.get("FLASHSALE_CLAIM_BURST"),
    )
    budget = _BUDGETS.get(raw)
    if budget is None:
        rate = float(setting("FLASHSALE_CLAIM_RATE"))
        if rate <= 0:
            budget = None, 1.0
        else:
            budget = rate, max(1.0, float(setting("FLASHSALE_CLAIM_BURST") or rate))
        if len(_BUDGETS) > 64:  # raw values are few (tests change them); never grows unbounded
            _BUDGETS.clear()
        _BUDGETS[raw] = budget
    return budget


_BUDGETS: dict[tuple, tuple[float | None, float]] = {}
