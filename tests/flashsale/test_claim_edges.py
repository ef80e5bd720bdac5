"""The claim decision's less travelled branches: the engine disagreeing with the cached metadata,
a pool that is not loaded, a restart being restored, the extra members of each refusal, and the
outcome counts operators watch (``shihui_claims_total``)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from prometheus_client import REGISTRY

from flashsale.hotpath import get_engine, meta_key
from flashsale.models import Campaign
from flashsale.recovery import _key
from marketplace.extensions import db, get_redis
from marketplace.models import utcnow

from .factories import create_sale, make_members, make_merchant


def outcomes() -> dict[str, float]:
    return {
        s.labels["outcome"]: s.value
        for metric in REGISTRY.collect()
        if metric.name == "shihui_claims"
        for s in metric.samples
        if s.name == "shihui_claims_total"
    }


def delta(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_a_claim_answers_the_vouchers_validity_and_counts_claims_and_replays(
    app_ctx, client, claim
):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, per_member_limit=2)
    campaign = db.session.get(Campaign, sale)
    before = outcomes()
    body = claim(sale, token, key="validity-1").get_json()
    assert body["voucher"]["valid_from"] == campaign.valid_from.isoformat()
    assert body["voucher"]["valid_until"] == campaign.valid_until.isoformat()
    assert claim(sale, token, key="validity-1").get_json() == body
    assert claim(sale, token).status_code == 201
    refused = claim(sale, token)
    assert (refused.status_code, refused.get_json()["code"]) == (409, "limit_reached")
    assert refused.get_json()["per_member_limit"] == 2  # the client can say why
    assert delta(before, outcomes()) == {"claimed": 2, "replayed": 1, "limit_reached": 1}


def test_each_refusal_is_counted_under_its_outcome(app, app_ctx, client, claim):
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    ((_, inactive),) = make_members(1, start=10, active=False)
    ((_, elsewhere),) = make_members(1, start=20, region="110101")
    sold = create_sale(client, owner, total_stock=1, regions=["310101"])
    later = create_sale(
        client,
        owner,
        starts_at=(utcnow() + timedelta(hours=1)).isoformat(),
        ends_at=(utcnow() + timedelta(hours=2)).isoformat(),
    )
    cancelled = create_sale(client, owner)
    open_sale = create_sale(client, owner, total_stock=10, per_member_limit=1)
    client.post(
        f"/api/v1/merchant/campaigns/{cancelled}/cancel",
        headers={"Authorization": f"Bearer {owner}"},
    )
    before = outcomes()
    assert claim(sold, token).status_code == 201
    for sale, who in [
        (sold, other), (sold, inactive), (sold, elsewhere), (later, token), (cancelled, token),
        (424_242, token),
    ]:  # fmt: skip
        assert claim(sale, who).status_code >= 400
    # The member budget is kept by the engine per member and sale: one request, then none.
    app.config.update(FLASHSALE_CLAIM_RATE=1, FLASHSALE_CLAIM_BURST=1)
    assert claim(open_sale, other).status_code == 201
    assert claim(open_sale, other).status_code == 429
    assert delta(before, outcomes()) == {
        "claimed": 2, "sold_out": 1, "card_inactive": 1, "not_eligible": 1, "not_started": 1,
        "ended": 1, "unknown": 1, "rate_limited": 1,
    }  # fmt: skip


def test_rate_limited_says_when_to_retry(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_CLAIM_RATE=2, FLASHSALE_CLAIM_BURST=1)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    assert claim(sale, token).status_code == 201
    r = claim(sale, token)  # half a second until the next token: retry after 1 s
    assert (r.status_code, r.get_json()["code"], r.headers["Retry-After"]) == (
        429,
        "rate_limited",
        "1",
    )
    app.config.update(FLASHSALE_CLAIM_RATE=0.25)  # one request per 4 s
    time.sleep(0.6)  # the half second owed at the old rate has passed
    start = time.monotonic()
    assert claim(sale, token).status_code == 409  # limit reached, but it spent the token
    r = claim(sale, token)
    elapsed = time.monotonic() - start
    retry_after = int(r.headers["Retry-After"])
    if elapsed < 1:  # the next token is 3 to 4 s away: the whole seconds that cover it
        assert retry_after == 4
    assert 1 <= retry_after <= 4


def test_a_claim_right_after_the_start_is_not_refused_as_early(app, app_ctx, client, claim):
    """The route refuses early requests only a second before the start (clock skew slack);
    at the start itself the request goes to the engine, which has opened."""
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    get_redis().hset(meta_key(sale), "starts_at", time.time())
    r = claim(sale, token)
    assert r.status_code == 201, r.get_json()


def test_a_sale_without_the_card_requirement_takes_inactive_cards(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, inactive),) = make_members(1, active=False)
    sale = create_sale(client, owner, require_active_card=False)
    r = claim(sale, inactive)
    assert r.status_code == 201, r.get_json()


def test_the_engine_decides_a_start_the_metadata_thinks_has_passed(app, app_ctx, client, claim):
    """Clock skew between web processes and Redis: the route lets the request through (the
    metadata says started), the engine refuses it, and the member hears not_started."""
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    starts = utcnow() + timedelta(hours=1)
    sale = create_sale(
        client,
        owner,
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=1)).isoformat(),
    )
    skewed = time.time() - 60
    get_redis().hset(meta_key(sale), "starts_at", skewed)
    before = time.time()
    r = claim(sale, token)
    body = r.get_json()
    assert (r.status_code, body["code"]) == (409, "not_started")
    assert abs(datetime.fromisoformat(body["starts_at"]).timestamp() - skewed) < 0.001
    server_time = datetime.fromisoformat(body["server_time"])
    assert server_time.utcoffset() == timedelta(0)
    assert before - 1 <= server_time.timestamp() <= time.time() + 1


def test_not_started_tells_the_start_and_the_server_time(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    starts = utcnow() + timedelta(hours=1)
    sale = create_sale(
        client,
        owner,
        starts_at=starts.isoformat(),
        ends_at=(starts + timedelta(hours=1)).isoformat(),
    )
    body = claim(sale, token).get_json()
    stored = db.session.get(Campaign, sale).starts_at
    assert abs(datetime.fromisoformat(body["starts_at"]) - stored) < timedelta(milliseconds=1)
    assert abs(datetime.fromisoformat(body["server_time"]) - utcnow()) < timedelta(seconds=30)


def test_a_closed_pool_refuses_although_the_metadata_says_open(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    get_engine().close_pool(str(sale))
    r = claim(sale, token)
    assert (r.status_code, r.get_json()["code"]) == (410, "ended")


def test_claims_wait_while_a_restarted_redis_is_being_restored(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    get_redis().set(_key("run_id"), "a-server-that-was-replaced")  # not reconciled yet
    before = outcomes()
    r = claim(sale, token)
    assert delta(before, outcomes()) == {"error": 1}
    assert (r.status_code, r.get_json()["code"]) == (503, "sale_restoring")
    assert r.get_json()["detail"] == (
        "The sale is being restored after a restart; try again in a moment."
    )
    assert r.headers["Retry-After"] == "1"
    assert get_engine().stats(str(sale)).claimed == 0


def test_a_pool_that_is_not_loaded_is_unavailable_until_the_sale_ends(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_META_TTL=0)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    engine = get_engine()
    engine.retire_pool(str(sale))  # Redis lost the pool while the sale runs
    engine.forget(str(sale))
    before = outcomes()
    r = claim(sale, token)
    assert (r.status_code, r.get_json()["code"]) == (503, "service_unavailable")
    assert r.get_json()["detail"] == "The sale is not loaded; try again shortly."
    assert delta(before, outcomes()) == {"error": 1}
    get_redis().hset(meta_key(sale), "ends_at", time.time() - 1)  # over: retired, not lost
    before = outcomes()
    r = claim(sale, token)
    assert (r.status_code, r.get_json()["code"]) == (410, "ended")
    assert r.get_json()["detail"] == "This sale has ended."
    assert delta(before, outcomes()) == {"ended": 1}
