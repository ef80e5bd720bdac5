"""The winners snapshot: a sold-out pool answers "did this request win?" for members who hold no
request id without a Redis call, and the snapshot never outlives a ticket that came back."""

from __future__ import annotations

import time

import pytest

from inventory import RESERVED, SOLD_OUT

from .conftest import NAMESPACE
from .helpers import open_now


def commands(client) -> int:
    """Commands the server processed so far (the INFO call itself counts one)."""
    return int(client.info("stats")["total_commands_processed"])


def sell_out(engine, pool, stock, buckets=1):
    open_now(engine, pool, stock, 1, buckets=buckets)
    wins = [engine.reserve(pool, f"w{i}", 1, f"r{i}") for i in range(stock)]
    assert [w.status for w in wins] == [RESERVED] * stock
    refused = engine.reserve(pool, "loser", 1, "x")
    assert refused.status == SOLD_OUT
    return wins


@pytest.mark.parametrize("buckets", [1, 4])
def test_losers_are_answered_from_the_snapshot_with_no_redis_call(redis_client, buckets):
    from inventory import StockEngine

    engine = StockEngine(redis_client, namespace="t", local_cache_ttl=30)
    sell_out(engine, "p", 8, buckets)
    assert engine.reserve("p", "loser", 1, "x").cached
    assert not engine.has_request("p", "loser", "x", snapshot=True)  # takes the snapshot
    before = commands(redis_client)
    answers = [engine.has_request("p", f"loser{i}", f"x{i}", snapshot=True) for i in range(200)]
    assert commands(redis_client) - before == 1  # only the INFO above
    assert answers == [False] * 200
    # A member in the snapshot still asks Redis, so only their own request ids count.
    before = commands(redis_client)
    assert engine.has_request("p", "w3", "r3", snapshot=True)
    assert not engine.has_request("p", "w3", "r4", snapshot=True)
    assert commands(redis_client) - before == 3  # two HEXISTS and the INFO


def test_without_the_snapshot_flag_every_answer_asks_redis(redis_client):
    from inventory import StockEngine

    engine = StockEngine(redis_client, namespace="t", local_cache_ttl=30)
    sell_out(engine, "p", 2)
    before = commands(redis_client)
    assert not engine.has_request("p", "loser", "x")
    assert commands(redis_client) - before == 2


def test_a_cancellation_here_drops_the_snapshot(backend):
    engine = backend.engine(local_cache_ttl=30)
    wins = sell_out(engine, "p", 3)
    assert not engine.has_request("p", "late", "late-1", snapshot=True)  # snapshot taken
    engine.cancel("p", wins[0].claim_id)  # a ticket comes back through this process
    assert engine.reserve("p", "late", 1, "late-1").status == RESERVED
    assert engine.reserve("p", "other", 1, "o-1").status == SOLD_OUT
    assert engine.has_request("p", "late", "late-1", snapshot=True)


@pytest.mark.parametrize("buckets", [1, 4])
def test_a_ticket_won_through_another_process_drops_the_snapshot_within_one_ttl(backend, buckets):
    here = backend.engine(local_cache_ttl=0.3)
    there = backend.engine(local_cache_ttl=0.3)  # another web process: its own cache
    wins = sell_out(here, "p", 4, buckets)
    assert not here.has_request("p", "late", "late-1", snapshot=True)  # snapshot taken here
    there.cancel("p", wins[0].claim_id)
    assert there.reserve("p", "late", 1, "late-1").status == RESERVED
    time.sleep(0.35)  # this process's sold-out flag expires ...
    assert here.reserve("p", "someone", 1, "s-1").status == SOLD_OUT  # ... Redis says so again
    assert here.has_request("p", "late", "late-1", snapshot=True)  # the stale snapshot is gone
    assert not here.has_request("p", "someone", "s-1", snapshot=True)


def test_a_pool_with_stock_is_never_answered_from_a_snapshot(backend):
    engine = backend.engine(local_cache_ttl=30)
    open_now(engine, "p", 5, 1)
    assert engine.reserve("p", "m1", 1, "r1").status == RESERVED
    assert engine.has_request("p", "m1", "r1", snapshot=True)
    assert not engine.has_request("p", "m2", "r2", snapshot=True)


@pytest.mark.parametrize("buckets", [1, 4])
def test_redis_back_from_older_data_drops_the_snapshot(backend, buckets):
    """Redis restarts from an older AOF (the last claim lost) and the lost ticket is won again
    by someone else through another process: the snapshot taken before the restart must not
    answer "not a winner" to them. Claim sequences follow the server clock, so the new claim's
    sequence differs from every one the snapshot saw, however much data was lost."""
    here = backend.engine(local_cache_ttl=0.3)
    there = backend.engine(local_cache_ttl=0.3)
    client = backend.client
    open_now(here, "p", 3 * buckets, 1, buckets=buckets)
    for i in range(3 * buckets - 1):
        assert here.reserve("p", f"w{i}", 1, f"r{i}").status == RESERVED
    older = {key: client.dump(key) for key in client.scan_iter(match=f"{NAMESPACE}:*")}
    assert len(older) >= buckets  # the pool's keys: the old AOF
    assert here.reserve("p", "last", 1, "r-last").status == RESERVED
    assert here.reserve("p", "loser", 1, "x").status == SOLD_OUT
    assert not here.has_request("p", "late", "late-1", snapshot=True)  # snapshot taken here
    for key in client.scan_iter(match=f"{NAMESPACE}:*"):  # the restart: only the older data is back
        if key not in older:
            client.delete(key)
    for key, value in older.items():
        client.restore(key, 0, value, replace=True)
    assert there.reserve("p", "late", 1, "late-1").status == RESERVED  # the lost ticket, again
    time.sleep(0.35)  # this process's sold-out flag expires ...
    assert here.reserve("p", "someone", 1, "s-1").status == SOLD_OUT  # ... Redis says so again
    assert here.has_request("p", "late", "late-1", snapshot=True)  # the snapshot was dropped
    assert not here.has_request("p", "someone", "s-1", snapshot=True)


def test_a_restock_here_drops_the_snapshot(backend):
    """More tickets put on sale through this process: a member the snapshot says did not win
    must be able to win one (found by mutation testing: only cancellations were checked)."""
    engine = backend.engine(local_cache_ttl=30)
    sell_out(engine, "p", 3)
    assert not engine.has_request("p", "late", "late-1", snapshot=True)  # snapshot taken
    engine.restock("p", 4)
    assert engine.reserve("p", "late", 1, "late-1").status == RESERVED
    assert engine.has_request("p", "late", "late-1", snapshot=True)
    assert engine.reserve("p", "other", 1, "o-1").status == SOLD_OUT
