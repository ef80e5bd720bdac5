"""The claim path's SQL-free inputs (flashsale.hotpath): the per-member budget's settings and the
campaign metadata cached in Redis and in the process."""

from __future__ import annotations

from datetime import timedelta

from flashsale.hotpath import campaign_meta, claim_budget, get_engine, meta_key
from flashsale.models import Campaign
from marketplace.extensions import db, get_redis
from marketplace.models import utcnow

from .factories import create_sale, make_merchant


def test_claim_budget_reads_the_settings_the_reserve_script_enforces(app, app_ctx):
    # The budget itself is a GCRA in inventory/lua/reserve.lua (tests/inventory/
    # test_inventory_budget.py, tests/flashsale/test_budget_race.py); here: what it is given.
    app.config.update(FLASHSALE_CLAIM_RATE=4, FLASHSALE_CLAIM_BURST=None)
    assert claim_budget() == (4.0, 4.0)  # the burst defaults to the rate
    app.config.update(FLASHSALE_CLAIM_BURST=9)
    assert claim_budget() == (4.0, 9.0)
    app.config.update(FLASHSALE_CLAIM_RATE=0.5, FLASHSALE_CLAIM_BURST=None)
    assert claim_budget() == (0.5, 1.0)  # never a burst below one request
    app.config.update(FLASHSALE_CLAIM_RATE=0)
    assert claim_budget() == (None, 1.0)  # 0 turns the budget off
    app.config.update(FLASHSALE_CLAIM_RATE=4, FLASHSALE_CLAIM_BURST=9)
    assert claim_budget() == (4.0, 9.0)  # back to an earlier value: remembered, still right


def test_claim_budget_falls_back_to_the_environment_and_sees_it_change(app, app_ctx, monkeypatch):
    """Each claim reads the budget (remembered per raw value): with nothing in the config the
    environment decides, and a change there counts from the next claim."""
    app.config.pop("FLASHSALE_CLAIM_RATE", None)
    app.config.pop("FLASHSALE_CLAIM_BURST", None)
    monkeypatch.setenv("FLASHSALE_CLAIM_RATE", "3")
    monkeypatch.delenv("FLASHSALE_CLAIM_BURST", raising=False)
    assert claim_budget() == (3.0, 3.0)
    monkeypatch.setenv("FLASHSALE_CLAIM_BURST", "6")
    assert claim_budget() == (3.0, 6.0)
    monkeypatch.delenv("FLASHSALE_CLAIM_RATE")
    monkeypatch.delenv("FLASHSALE_CLAIM_BURST")
    assert claim_budget() == (5.0, 5.0)  # flashsale/settings.py's defaults
    app.config["FLASHSALE_CLAIM_RATE"] = 2  # the config wins over the environment
    monkeypatch.setenv("FLASHSALE_CLAIM_RATE", "8")
    assert claim_budget() == (2.0, 2.0)


def test_engine_is_built_once_with_the_apps_namespace(app, app_ctx):
    app.config.update(REDIS_NAMESPACE="elsewhere", FLASHSALE_SOLDOUT_CACHE_SECONDS=7)
    app.extensions.pop("flashsale.engine", None)
    engine = get_engine()
    assert get_engine() is engine
    assert engine.namespace == "elsewhere"
    assert engine.cache.ttl == 7.0


def test_metadata_matches_the_campaign(app, app_ctx, client):
    _, owner = make_merchant()
    sale = create_sale(
        client, owner, regions=["310101", "310104"], require_active_card=False, per_member_limit=2
    )
    campaign = db.session.get(Campaign, sale)
    meta = campaign_meta(sale)
    assert (meta.id, meta.merchant_id, meta.status) == (sale, campaign.merchant_id, "scheduled")
    assert meta.starts_at == campaign.starts_at.timestamp()
    assert meta.ends_at == campaign.ends_at.timestamp()
    assert meta.per_member_limit == 2 and meta.regions == frozenset({"310101", "310104"})
    assert (meta.require_active_card, meta.merchant_active, meta.available) == (False, True, True)
    assert meta.valid_from == campaign.valid_from.isoformat()
    assert meta.valid_until == campaign.valid_until.isoformat()
    everywhere = campaign_meta(create_sale(client, owner))
    assert everywhere.regions is None and everywhere.require_active_card is True


def test_metadata_is_cached_for_the_ttl_then_read_again(app, app_ctx, client):
    app.config.update(FLASHSALE_META_TTL=60)
    _, owner = make_merchant()
    sale = create_sale(client, owner)
    assert campaign_meta(sale).status == "scheduled"
    get_redis().hset(meta_key(sale), "status", "cancelled")  # another process cancelled it
    assert campaign_meta(sale).available  # still this process's copy
    app.config.update(FLASHSALE_META_TTL=0)
    app.extensions["flashsale.meta"].clear()
    assert campaign_meta(sale).status == "cancelled"
    assert not campaign_meta(sale).available  # TTL 0: every call reads Redis again


def test_metadata_redis_lost_is_refilled_from_sql(app, app_ctx, client):
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    sale = create_sale(client, owner, per_member_limit=3)
    get_redis().delete(meta_key(sale))
    refilled = campaign_meta(sale)
    assert (refilled.id, refilled.per_member_limit) == (sale, 3)
    assert get_redis().hget(meta_key(sale), "limit") == b"3"  # written back for the others
    assert campaign_meta(create_sale(client, owner, publish=False)) is None  # drafts are hidden
    assert campaign_meta(987_654) is None


def test_metadata_of_a_retired_sale_comes_from_sql_without_writing_keys(app, app_ctx, client):
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    sale = create_sale(client, owner)
    campaign = db.session.get(Campaign, sale)
    campaign.retired_at = utcnow()
    db.session.commit()
    get_redis().delete(meta_key(sale))
    meta = campaign_meta(sale)
    assert meta is not None and meta.id == sale and meta.per_member_limit == 1
    assert not get_redis().exists(meta_key(sale))  # a retired sale leaves nothing in Redis


def test_unknown_ids_cannot_grow_the_cache_without_bound(app, app_ctx, client):
    _, owner = make_merchant()
    sale = create_sale(client, owner, ends_at=(utcnow() + timedelta(hours=2)).isoformat())
    cache = app.extensions.setdefault("flashsale.meta", {})
    cache.update({-i: (float("inf"), None) for i in range(1, 10_002)})
    assert campaign_meta(sale).id == sale
    assert list(cache) == [sale]
