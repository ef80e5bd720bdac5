"""Engine behaviour, one operation at a time, on a standalone server and on the cluster."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from inventory import (
    CLOSED,
    LIMIT_REACHED,
    NOT_OPEN,
    RESERVED,
    SOLD_OUT,
    ClaimNotFound,
    PoolNotFound,
    StockBelowClaimed,
)
from inventory.keys import claim_number, home_bucket

from .helpers import by_type, open_now, outbox


def test_reserve_records_claim_and_outbox_in_one_step(engine):
    open_now(engine, "p", 3, 2)
    r = engine.reserve("p", "alice", 1, "req-1", {"voucher": "V1"})
    assert (r.status, r.remaining, r.member_count, r.replayed) == (RESERVED, 2, 1, False)
    assert r.claim_id.startswith("p-") and r.claim_id[2:].isdigit()
    assert r.payload == {"voucher": "V1"} and r.hold_until is None
    [entry] = outbox(engine, "p")
    assert entry["type"] == "claim" and entry["voucher"] == "V1"
    assert (entry["claim_id"], entry["member_id"], entry["qty"]) == (r.claim_id, "alice", "1")
    assert (entry["request_id"], entry["pool_id"]) == ("req-1", "p")
    assert abs(int(entry["ts"]) / 1000 - time.time()) < 60


def test_repeated_request_returns_first_result_and_changes_nothing(engine):
    open_now(engine, "p", 3, 2)
    first = engine.reserve("p", "alice", 1, "req-1", {"voucher": "V1"})
    engine.reserve("p", "bob", 1, "req-2")
    again = engine.reserve("p", "alice", 1, "req-1", {"voucher": "other"})
    assert again.replayed and again.claim_id == first.claim_id
    assert (again.remaining, again.member_count, again.payload) == (2, 1, {"voucher": "V1"})
    assert engine.stats("p").claimed == 2
    assert len(outbox(engine, "p")) == 2


def test_limit_and_stock_refusals(engine):
    open_now(engine, "p", 3, 2)
    assert engine.reserve("p", "alice", 2, "a1").status == RESERVED
    refused = engine.reserve("p", "alice", 1, "a2")
    assert (refused.status, refused.member_count, refused.claim_id) == (LIMIT_REACHED, 2, None)
    assert engine.reserve("p", "bob", 2, "b1").status == SOLD_OUT  # one left, two asked
    assert engine.reserve("p", "bob", 1, "b2").remaining == 0
    assert engine.reserve("p", "carol", 1, "c1").status == SOLD_OUT
    assert engine.is_sold_out("p")


def test_sale_window_uses_server_time_and_close_pool(engine):
    now = datetime.now(UTC)
    engine.open_pool("later", 5, 1, now + timedelta(hours=1), now + timedelta(hours=2))
    engine.open_pool("over", 5, 1, now - timedelta(hours=2), now - timedelta(hours=1))
    open_now(engine, "p", 5, 1)
    assert engine.reserve("later", "a", 1, "r").status == NOT_OPEN
    assert engine.reserve("over", "a", 1, "r").status == CLOSED
    engine.close_pool("p")
    assert engine.reserve("p", "a", 1, "r").status == CLOSED
    assert engine.stats("p").status == CLOSED and engine.stats("later").status == NOT_OPEN
    with pytest.raises(ValueError):
        engine.open_pool("naive", 5, 1, datetime(2030, 1, 1), datetime(2030, 1, 2))


def test_open_is_idempotent_and_unknown_pools_raise(engine):
    open_now(engine, "p", 3, 1)
    engine.reserve("p", "a", 1, "r")
    assert engine.open_pool("p", 99, 5, 0, 1) is False
    assert engine.stats("p").total == 3 and engine.pool_exists("p")
    assert not engine.pool_exists("nope")
    with pytest.raises(PoolNotFound) as err:
        engine.reserve("nope", "a", 1, "r")
    assert err.value.pool_id == "nope"
    with pytest.raises(ClaimNotFound):
        engine.commit("p", "p-999")
    with pytest.raises(ValueError):
        engine.reserve("p", "a", 1, "r2", {"qty": "5"})
    assert engine.active_pools() == {"p"}


@pytest.mark.parametrize("buckets", [1, 4])
def test_restock_raises_and_lowers_but_never_below_claimed(engine, buckets):
    open_now(engine, "p", 4, 10, buckets=buckets)
    for i in range(4):
        assert engine.reserve("p", "a", 1, f"r{i}").status == RESERVED
    assert engine.is_sold_out("p") == (buckets == 1)
    engine.restock("p", 10)
    assert not engine.is_sold_out("p")
    assert (engine.stats("p").total, engine.stats("p").remaining) == (10, 6)
    engine.restock("p", 6)
    assert (engine.stats("p").total, engine.stats("p").remaining) == (6, 2)
    with pytest.raises(StockBelowClaimed) as err:
        engine.restock("p", 3)
    assert (err.value.requested_total, err.value.claimed) == (3, 4)
    assert (engine.stats("p").total, engine.stats("p").remaining) == (6, 2)


def test_holds_commit_release_and_expire(engine):
    open_now(engine, "p", 3, 3, hold_seconds=60)
    a = engine.reserve("p", "alice", 1, "r1")
    b = engine.reserve("p", "alice", 1, "r2")
    c = engine.reserve("p", "alice", 1, "r3")
    assert a.hold_until > time.time() + 30
    assert engine.stats("p").held == 3
    assert engine.commit("p", a.claim_id).changed
    assert engine.commit("p", a.claim_id).changed is False
    assert engine.release("p", a.claim_id).state == "committed"
    released = engine.release("p", b.claim_id)
    assert (released.state, released.changed) == ("released", True)
    assert engine.commit("p", b.claim_id).state == "released"
    assert engine.expire_holds("p") == []
    assert engine.expire_holds("p", now=time.time() + 120) == [c.claim_id]
    stats = engine.stats("p")
    assert (stats.remaining, stats.claimed, stats.held, stats.members) == (2, 1, 0, 1)
    entries = outbox(engine, "p")
    assert [e["type"] for e in entries] == ["claim"] * 3 + ["release", "expire"]


def test_commit_after_the_deadline_expires_the_hold(engine):
    open_now(engine, "p", 2, 2, hold_seconds=0.05)
    a = engine.reserve("p", "alice", 1, "r1")
    time.sleep(0.1)
    result = engine.commit("p", a.claim_id)
    assert (result.state, result.changed) == ("expired", True)
    assert engine.expire_holds("p") == []
    assert engine.stats("p").remaining == 2


def test_cancel_returns_stock_once_and_lowers_member_count(engine):
    open_now(engine, "p", 1, 1)
    a = engine.reserve("p", "alice", 1, "r1")
    assert engine.reserve("p", "alice", 1, "r2").status == LIMIT_REACHED
    assert engine.cancel("p", a.claim_id).changed
    assert engine.cancel("p", a.claim_id).changed is False
    assert not engine.is_sold_out("p")
    again = engine.reserve("p", "alice", 1, "r3")
    assert (again.status, again.member_count) == (RESERVED, 1)
    assert claim_number("p", again.claim_id) > claim_number("p", a.claim_id)
    assert len(by_type(outbox(engine, "p"), "cancel")) == 1


def test_cancel_leaves_held_claims_alone(engine):
    open_now(engine, "p", 1, 1, hold_seconds=60)
    a = engine.reserve("p", "alice", 1, "r1")
    assert (engine.cancel("p", a.claim_id).state, engine.stats("p").held) == ("held", 1)


def test_local_cache_answers_sold_out_without_redis(backend):
    engine = backend.engine(local_cache_ttl=30)
    open_now(engine, "p", 1, 1)
    a = engine.reserve("p", "alice", 1, "r1")
    cached = engine.reserve("p", "bob", 1, "r2")
    assert cached.status == SOLD_OUT and cached.cached
    assert engine.reserve("p", "alice", 1, "r1", use_cache=False).replayed
    engine.cancel("p", a.claim_id)  # stock returned through this engine clears its cache
    assert engine.reserve("p", "bob", 1, "r2").status == RESERVED


def test_buckets_fall_over_and_keep_the_limit_exact(engine):
    open_now(engine, "hot", 8, 5, buckets=4)
    results = [engine.reserve("hot", "alice", 1, f"a{i}") for i in range(6)]
    assert [r.status for r in results] == [RESERVED] * 5 + [LIMIT_REACHED]
    assert {r.bucket for r in results} == {home_bucket("alice", 4)}
    bob = [engine.reserve("hot", "bob", 1, f"b{i}") for i in range(4)]
    assert [r.status for r in bob] == [RESERVED] * 3 + [SOLD_OUT]
    assert engine.is_sold_out("hot")
    assert engine.stats("hot").remaining == 0 and engine.stats("hot").members == 2
    numbers = {int(r.claim_id.rsplit("-", 1)[1]) % 4 for r in results[:5]}
    assert numbers == {home_bucket("alice", 4)}  # claim ids route back to the home bucket
    engine.cancel("hot", results[0].claim_id)
    assert not engine.is_sold_out("hot")
    assert engine.reserve("hot", "carol", 1, "c1").status == RESERVED


def test_stock_stranded_by_a_crashed_fall_over_is_reconciled(engine):
    open_now(engine, "hot", 8, 8, buckets=2)
    k = engine.keys("hot", 1)
    assert engine.scripts["lend"](keys=[k.pool, k.transit], args=["xfer-1", 3, 0]) == 3
    stats = engine.stats("hot")  # completes the transfer exactly once
    assert (stats.total, stats.remaining) == (8, 8)
    assert engine.stats("hot").total == 8
    assert [engine.reserve("hot", f"m{i}", 1, f"r{i}").status for i in range(9)].count(
        RESERVED
    ) == 8


def test_has_request_tells_a_won_request_from_others(engine):
    engine.open_pool("hr", 1, 1, 0, 4_000_000_000)
    assert engine.reserve("hr", "m1", 1, "req-1", {"code": "A"}).status == RESERVED
    assert engine.reserve("hr", "m2", 1, "req-2", {"code": "B"}).status == "sold_out"
    assert engine.has_request("hr", "m1", "req-1")
    assert not engine.has_request("hr", "m2", "req-2")  # refused requests are not remembered
    assert not engine.has_request("hr", "m2", "req-1")  # request ids are per member


def test_member_count_follows_claims_and_cancels(engine):
    """What the sale page asks (one HGET): the units a member holds now, on its home bucket
    of a bucketed pool, lowered by a cancel, 0 for others and for unknown or retired pools."""
    engine.open_pool("mc", 64, 3, 0, 4_000_000_000, buckets=8)
    first = engine.reserve("mc", "m7", 1, "req-1")
    assert engine.reserve("mc", "m7", 2, "req-2").status == RESERVED
    assert engine.member_count("mc", "m7") == 3
    assert engine.member_count("mc", "m8") == 0
    assert engine.member_count("mc", 7) == 0  # "7" is another member than "m7"
    assert engine.cancel("mc", first.claim_id).changed
    assert engine.member_count("mc", "m7") == 2
    assert engine.member_count("nosuchpool", "m7") == 0
    engine.retire_pool("mc")
    assert engine.member_count("mc", "m7") == 0


def test_has_request_finds_the_home_bucket(engine):
    engine.open_pool("hb", 64, 4, 0, 4_000_000_000, buckets=8)
    for i in range(20):
        assert engine.reserve("hb", f"m{i}", 1, f"req-{i}").status == RESERVED
    assert all(engine.has_request("hb", f"m{i}", f"req-{i}") for i in range(20))
    assert not engine.has_request("hb", "m0", "req-1")
