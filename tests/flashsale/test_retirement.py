"""Redis memory stays bounded: the outbox is trimmed as it drains, finished sales are retired.

Sales run back to back through the engine, the drain, the audit and the retire job; the Redis
keys of every sale disappear and the server's memory returns to where it started. A retired
sale keeps answering from SQL: late cancellations, redemptions, audits, the admin console.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from flashsale.audit import run_audit
from flashsale.hotpath import get_engine, meta_key
from flashsale.jobs import GROUP, drain_outbox, retire_due
from flashsale.memory import sale_bytes
from flashsale.models import Campaign, Voucher
from flashsale.recovery import reconcile_pools
from inventory import keys_memory
from marketplace.auth.models import Account
from marketplace.extensions import db, get_redis
from marketplace.models import utcnow
from marketplace.vouchercodes import new_voucher_code
from tests.inventory.test_inventory_retention import settled_used
from tests.merchant_portal.conftest import Browser

from .factories import _hash, bearer, create_sale, make_members, make_merchant

SALES, CLAIMS = 20, 500


@pytest.fixture
def retire_now(app):
    app.config["FLASHSALE_RETIRE_AFTER_SECONDS"] = 0
    yield
    app.config.pop("FLASHSALE_RETIRE_AFTER_SECONDS", None)


def sale_keys(client, ns="shihui") -> list[str]:
    """Every key a sale owns: pool buckets (``ns:{id:b}:*``), the pools set, metadata hashes."""
    found = set()
    for pattern in (f"{ns}:{{*", f"{ns}:pools", f"{ns}:fs:meta:*"):
        found |= {k.decode() for k in client.scan_iter(match=pattern, count=1000)}
    return sorted(found)


def end_sale(campaign_id: int) -> Campaign:
    """The sale's window closes now (SQL, claim-path metadata and the engine agree)."""
    campaign = db.session.get(Campaign, campaign_id)
    campaign.ends_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    get_engine().close_pool(campaign.pool_id)
    return campaign


def test_many_sales_back_to_back_leave_redis_where_it_started(app_ctx, client, retire_now):
    _, owner = make_merchant()
    redis = get_redis()
    engine = get_engine()
    assert sale_keys(redis) == []
    live, stream_peak, used = [], 0, []
    for n in range(SALES):
        sale = create_sale(client, owner, total_stock=CLAIMS)
        pool = str(sale)
        stream = engine.outbox_streams(pool)[0]
        for i in range(CLAIMS):
            member = str(100_000 + n * CLAIMS + i)
            result = engine.reserve(pool, member, 1, f"k{i}", {"code": new_voucher_code()})
            assert result.ok, result
            if i % 100 == 99:  # the drainer keeps up while claims flow: the stream stays short
                stream_peak = max(stream_peak, redis.xlen(stream))
                drain_outbox(kind="test")
                assert redis.xlen(stream) == 0
        campaign = end_sale(sale)
        live.append(sale_bytes([campaign])[sale])
        assert run_audit(sale).ok
        assert retire_due() == [sale]
        assert sale_keys(redis) == [], f"sale {n} left keys behind"
        db.session.expire_all()
        assert db.session.get(Campaign, sale).retired_at is not None
        used.append(settled_used(redis))
    assert stream_peak == 100
    assert db.session.scalar(select(func.count()).select_from(Voucher)) == SALES * CLAIMS
    assert min(live) > CLAIMS * 100  # while live, each sale held every claim in Redis
    # Each retired sale leaves only its scheduled audit job in RQ's database (~0.5 KB, gone once
    # a worker runs it), while each held min(live) bytes (~70 KB) when it was live. The median
    # step between sales is the figure: a leak adds to every step, while one-off jumps (the
    # server warming up its script cache and client buffers, or another client of a shared
    # server, as on CI's PostgreSQL step) move only one.
    steps = sorted(b - a for a, b in zip(used, used[1:], strict=False))
    per_sale = steps[len(steps) // 2]
    assert per_sale < 1024, (used, min(live))
    assert min(live) > 20 * per_sale


def test_retired_sale_keeps_working_from_sql(app_ctx, client, claim, drain, retire_now):
    merchant_id, owner = make_merchant()
    members = make_members(3)
    sale = create_sale(client, owner, total_stock=5)
    other = create_sale(client, owner, total_stock=5)  # still live: keeps its keys
    codes = []
    for _, token in members:
        resp = claim(sale, token)
        assert resp.status_code == 201
        codes.append(resp.get_json()["voucher"]["code"])
    assert claim(other, members[0][1]).status_code == 201
    drain()
    end_sale(sale)
    assert retire_due() == []  # not audited yet: the pool stays
    assert run_audit(sale).ok
    assert retire_due() == [sale]
    redis = get_redis()
    assert not [k for k in sale_keys(redis) if k.startswith(f"shihui:{{{sale}:")]
    assert redis.exists(meta_key(sale)) == 0 and redis.exists(meta_key(other)) == 1
    assert str(sale) not in get_engine().active_pools()

    # A late cancellation (before the sale's cancel deadline) is recorded in SQL alone.
    resp = client.post(f"/api/v1/me/vouchers/{codes[0]}/cancel", headers=bearer(members[0][1]))
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled", resp.get_json()
    # A redemption at the counter works as before.
    resp = client.post(
        "/api/v1/merchant/redemptions", json={"code": codes[1]},
        headers={**bearer(owner), "Idempotency-Key": "scan-0001"},
    )  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    # A claim is refused as ended, from SQL, without writing the metadata back.
    resp = claim(sale, members[2][1])
    assert resp.status_code == 410 and resp.get_json()["code"] == "ended"
    # reconcile_pools (after a Redis restart) does not bring the pool back.
    reconciled = [r["campaign_id"] for r in reconcile_pools()]
    assert sale not in reconciled and other in reconciled
    assert not get_engine().pool_exists(str(sale))
    assert not [k for k in sale_keys(redis) if k.startswith(f"shihui:{{{sale}:")]
    assert redis.exists(meta_key(sale)) == 0
    # The audit of a retired sale checks SQL alone, and still names a problem.
    result = run_audit(sale)
    assert result.ok and result.sql_vouchers == 2 and result.engine_claimed is None
    first = db.session.scalar(select(Voucher).where(Voucher.code == codes[2]))
    db.session.add(
        Voucher(
            claim_id=f"{sale}-999", code="ZZZZZZZZZZZZZZZZ", campaign_id=sale,
            member_id=first.member_id, claimed_at=first.claimed_at,
            valid_from=first.valid_from, valid_until=first.valid_until,
        )
    )  # fmt: skip
    db.session.commit()
    assert "more than the limit" in " ".join(run_audit(sale).problems)
    # The merchant's numbers come from SQL: 4 vouchers stored (one invented above), 1 cancelled.
    resp = client.get(f"/api/v1/merchant/campaigns/{sale}", headers=bearer(owner))
    stats = resp.get_json()["stats"]
    assert (stats["claimed"], stats["remaining"], stats["cancelled"]) == (3, 2, 1), stats


def test_redis_bytes_per_sale_in_the_console_and_metrics(app_ctx, client, claim, drain, retire_now):
    _, owner = make_merchant()
    members = make_members(2)
    retired = create_sale(client, owner, total_stock=5)
    live = create_sale(client, owner, total_stock=5)
    for _, token in members:
        assert claim(retired, token).status_code == 201
        assert claim(live, token).status_code == 201
    drain()
    end_sale(retired)
    assert run_audit(retired).ok and retire_due() == [retired]

    redis = get_redis()
    engine = get_engine()
    expected = keys_memory(
        redis, [k for k in sale_keys(redis) if k.startswith(f"shihui:{{{live}:")] + [meta_key(live)]
    )
    assert expected > 0 and engine.memory_usage(str(live)) > 0

    body = client.get("/metrics").get_data(as_text=True)
    assert f'shihui_sale_redis_bytes{{sale="{live}"}} {float(expected)}' in body, body[-2000:]
    assert f'sale="{retired}"' not in body
    assert "shihui_redis_used_memory_bytes " in body

    account = Account(username="root", role="admin", password_hash=_hash())
    db.session.add(account)
    db.session.commit()
    web = Browser(client)
    web.login("root", where="/admin/login")
    page = web.get("/admin/sales").get_data(as_text=True)
    assert f'data-testid="redis-{live}" data-bytes="{expected}"' in page
    assert f'data-testid="redis-{retired}" data-bytes="0"' in page
    assert "retired" in page.split(f'data-testid="redis-{retired}"')[1][:200]


def test_retire_waits_for_unpersisted_entries(app_ctx, client, claim, retire_now):
    _, owner = make_merchant()
    members = make_members(2)
    sale = create_sale(client, owner, total_stock=5)
    for _, token in members:
        assert claim(sale, token).status_code == 201
    end_sale(sale)
    # The audit re-persists from the outbox without acknowledging it: the entries stay
    # unacknowledged, so retiring would lose nothing but is still refused until the drain.
    assert run_audit(sale).ok
    from flashsale.retire import retire_sale

    assert retire_sale(sale, GROUP) is False
    assert get_engine().pool_exists(str(sale))
    drain_outbox(kind="test")
    assert retire_sale(sale, GROUP) is True and not get_engine().pool_exists(str(sale))


def test_keys_left_by_a_retirer_killed_after_its_commit_are_swept(app_ctx, client, claim, drain,
                                                                  retire_now):  # fmt: skip
    """The state a SIGKILL between ``retired_at``'s commit and the key deletion leaves behind:
    the next retire_due deletes the keys, and the vouchers stay as they were in SQL."""
    _, owner = make_merchant()
    members = make_members(2)
    sale = create_sale(client, owner, total_stock=5)
    for _, token in members:
        assert claim(sale, token).status_code == 201
    drain()
    campaign = end_sale(sale)
    campaign.retired_at = utcnow()  # committed; the process died before retire_pool
    db.session.commit()
    redis = get_redis()
    assert [k for k in sale_keys(redis) if k.startswith(f"shihui:{{{sale}:")]
    retire_due()
    assert not [k for k in sale_keys(redis) if k.startswith(f"shihui:{{{sale}:")]
    assert not redis.exists(meta_key(sale)) and str(sale) not in get_engine().active_pools()
    count = select(func.count()).where(Voucher.campaign_id == sale, Voucher.status == "issued")
    assert db.session.scalar(count) == 2
