"""Each feature's pools and outbox live in its own namespace: the flash-sale drainer reads only
flash-sale entries, group-buys still work end to end, and the upgrade moves old group-buy pools
out of the flash-sale namespace (``shihui catalogue rebuild``)."""

import logging
from datetime import timedelta

from sqlalchemy import func, select

from catalogue import jobs, states
from catalogue.engine import get_engine as groupbuy_engine
from catalogue.models import GroupBuy, GroupBuyVoucher
from flashsale.hotpath import get_engine as sale_engine
from flashsale.jobs import GROUP, drain_outbox
from flashsale.models import Voucher
from inventory import StockEngine
from marketplace.engines import base_namespace
from marketplace.extensions import db, get_redis
from marketplace.models import utcnow
from tests.flashsale.factories import create_sale, make_members, make_merchant

from . import factories as f


def _groups(key):
    return [g["name"].decode() for g in get_redis().xinfo_groups(key)]


def _join(api, deal_id, token):
    return api.post(f"/api/v1/groupbuys/{deal_id}/join", token)


def _sale_with_claim(client):
    _, owner = make_merchant(username="ns-owner")
    ((_, token),) = make_members(1, start=900)
    sale = create_sale(client, owner)
    resp = client.post(
        f"/api/v1/flashsales/{sale}/claims",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "ns-claim-0001"},
    )
    assert resp.status_code == 201, resp.get_json()
    return sale


def test_flash_sale_drainer_reads_only_flash_sale_entries(client, api, shop):
    deal = f.create(client, "/api/v1/merchant/groupbuys", shop[1], f.deal_body())["id"]
    a, b, c = (f.member() for _ in range(3))
    for member in (a, b, c):
        assert _join(api, deal, member[1]).status_code == 201
    assert api.post(f"/api/v1/groupbuys/{deal}/leave", c[1]).status_code == 200
    sale = _sale_with_claim(client)

    gb, fs = groupbuy_engine(), sale_engine()
    assert fs.namespace == base_namespace() and gb.namespace == f"{base_namespace()}:catalogue"
    assert fs.active_pools() == {str(sale)} and gb.active_pools() == {f"gb-{deal}"}
    (gb_stream,) = gb.outbox_streams(f"gb-{deal}")
    (fs_stream,) = fs.outbox_streams(str(sale))
    redis = get_redis()
    assert redis.xlen(gb_stream) == 4  # three joins and a leave
    fs_entries = redis.xlen(fs_stream)
    assert fs_entries >= 1

    assert drain_outbox(kind="test") == fs_entries  # every flash-sale entry, nothing else
    assert _groups(gb_stream) == []  # no flash-sale consumer ever read the group-buy outbox
    assert redis.xlen(gb_stream) == 4
    assert GROUP in _groups(fs_stream)
    assert db.session.scalar(select(func.count()).select_from(Voucher)) == 1

    assert jobs.trim_outboxes() == 4  # group-buys read no outbox: theirs is emptied
    assert redis.xlen(gb_stream) == 0
    assert fs.pool_exists(str(sale))

    # The group-buy goes on: the freed place is taken, the deal succeeds, vouchers are issued.
    d = f.member()
    assert _join(api, deal, d[1]).status_code == 201
    full = _join(api, deal, f.member()[1])
    assert full.status_code == 409 and full.get_json()["code"] == "groupbuy_full"
    after = db.session.get(GroupBuy, deal).deadline + timedelta(minutes=1)
    assert states.decide_deal(deal, now=after) == "succeeded"
    assert db.session.scalar(select(func.count()).select_from(GroupBuyVoucher)) == 3


def test_upgrade_moves_old_group_buy_pools_out_of_the_flash_sale_namespace(
    client, api, shop, runner, caplog
):
    deal = f.create(client, "/api/v1/merchant/groupbuys", shop[1], f.deal_body())["id"]
    a, b = f.member(), f.member()
    assert _join(api, deal, a[1]).status_code == 201
    # What an older version left: the deal's pool in the base namespace, one place taken.
    old = StockEngine(get_redis(), namespace=base_namespace())
    groupbuy_engine().retire_pool(f"gb-{deal}")
    now = utcnow()
    old.open_pool(f"gb-{deal}", 3, 1, now - timedelta(hours=1), now + timedelta(days=1))
    assert old.reserve(f"gb-{deal}", str(a[0]), 1, "old-join").ok
    sale = _sale_with_claim(client)
    assert sale_engine().active_pools() == {str(sale), f"gb-{deal}"}

    with caplog.at_level(logging.WARNING, logger="flashsale.hotpath"):
        drain_outbox(kind="test")
    assert _groups(old.outbox_streams(f"gb-{deal}")[0]) == []  # skipped unread
    assert f"gb-{deal}" in caplog.text and "catalogue rebuild" in caplog.text

    result = runner.invoke(args=["catalogue", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "1 rebuilt from SQL, 1 old group-buy pools deleted" in result.output
    assert sale_engine().active_pools() == {str(sale)}
    assert not old.pool_exists(f"gb-{deal}")
    assert groupbuy_engine().stats(f"gb-{deal}").remaining == 2  # a's place, from SQL
    assert _join(api, deal, b[1]).status_code == 201
    again = runner.invoke(args=["catalogue", "rebuild"])
    assert "0 rebuilt from SQL, 0 old group-buy pools deleted" in again.output
