"""The claim path's SQL-free inputs (flashsale.hotpath): the per-member request budget and the
campaign metadata cached in Redis and in the process."""

from __future__ import annotations

from datetime import timedelta

from flashsale.hotpath import MemberBudget, campaign_meta, get_engine, member_budget, meta_key
from flashsale.models import Campaign
from marketplace.extensions import db, get_redis
from marketplace.models import utcnow

from .factories import create_sale, make_merchant


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_budget_allows_a_burst_then_refills_at_the_rate():
    clock = Clock()
    budget = MemberBudget(rate=2, burst=3, clock=clock)
    assert [budget.take(7) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.take(7) == 0.5  # no token left: one comes back in 1/rate s
    assert budget.take(8) == 0.0  # every member has a budget of their own
    clock.now += 0.25
    assert budget.take(7) == 0.25  # half a token refilled, half still to wait
    clock.now += 0.25
    assert budget.take(7) == 0.0 and budget.take(7) == 0.5
    clock.now += 60  # a long pause refills up to the burst, never beyond it
    assert [budget.take(7) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_budget_forgets_only_members_whose_budget_is_full_again():
    clock = Clock()
    budget = MemberBudget(rate=2, burst=4, clock=clock, max_members=2)
    budget.take(1)
    clock.now += 3  # member 1's budget is full again after burst / rate = 2 s: nothing to keep
    assert [budget.take(2) for _ in range(4)] == [0.0] * 4
    budget.take(3)  # a third member: the table is over its bound and gets pruned
    assert set(budget._buckets) == {2, 3}  # the table stays bounded (memory of a web process)
    assert budget.take(2) == 0.5  # member 2, drained a moment ago, was not forgotten


def test_member_budget_is_built_once_from_the_settings(app, app_ctx):
    app.config.update(FLASHSALE_CLAIM_RATE=4, FLASHSALE_CLAIM_BURST=None)
    budget = member_budget()
    assert (budget.rate, budget.burst) == (4.0, 4.0)  # the burst defaults to the rate
    assert member_budget() is budget
    app.extensions.pop("flashsale.budget")
    app.config.update(FLASHSALE_CLAIM_BURST=9)
    assert member_budget().burst == 9.0


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
