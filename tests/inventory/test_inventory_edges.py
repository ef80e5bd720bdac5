"""Edges that mutation testing found unguarded (docs/mutation.md): multi-bucket restock by small
and uneven amounts, the sold-out answer of the fall-over path, hold expiry over several buckets
and batches, and the data the typed errors carry."""

from __future__ import annotations

import time

import pytest

from inventory import StockEngine
from inventory.errors import ClaimNotFound, PoolNotFound, StockBelowClaimed

from .conftest import NAMESPACE
from .helpers import open_now


@pytest.mark.parametrize("new_total", [19, 11, 18, 23, 30])
def test_multi_bucket_restock_reaches_any_total(engine, new_total):
    open_now(engine, "p", 20, 1, buckets=4)
    assert engine.restock("p", new_total) == new_total
    stats = engine.stats("p")
    assert (stats.total, stats.remaining, stats.claimed) == (new_total, new_total, 0)


def test_multi_bucket_restock_down_to_exactly_the_claimed_units(engine):
    open_now(engine, "p", 8, 1, buckets=4)
    for m in range(5):
        assert engine.reserve("p", f"m{m}", 1, f"r{m}").ok
    assert engine.restock("p", 5) == 5
    stats = engine.stats("p")
    assert (stats.total, stats.remaining, stats.claimed) == (5, 0, 5)
    with pytest.raises(StockBelowClaimed) as info:
        engine.restock("p", 4)
    err = info.value
    assert (err.pool_id, err.requested_total, err.claimed) == ("p", 4, 5)
    assert engine.stats("p").total == 5  # the refused decrease put every unit back


def test_one_bucket_restock_below_claimed_says_how_many_are_claimed(engine):
    open_now(engine, "p", 5, 3)
    assert engine.reserve("p", "m", 3, "r").ok
    with pytest.raises(StockBelowClaimed) as info:
        engine.restock("p", 2)
    assert (info.value.pool_id, info.value.requested_total, info.value.claimed) == ("p", 2, 3)
    assert "'p'" in str(info.value) and "3" in str(info.value)


@pytest.mark.parametrize("buckets", [1, 3])
def test_restock_of_a_missing_pool_names_it(backend, buckets):
    if backend.name != "standalone":
        pytest.skip("one flush of the standalone server is enough to lose the pool")
    engine = backend.engine()
    open_now(engine, "p", 6, 1, buckets=buckets)
    backend.client.flushdb()  # Redis lost the pool (restart without persistence, retirement)
    fresh = StockEngine(backend.client, namespace=NAMESPACE)
    fresh._buckets["p"] = buckets  # what a process that saw the pool before the loss remembers
    with pytest.raises(PoolNotFound) as info:
        fresh.restock("p", 10)
    assert info.value.pool_id == "p" and info.value.code == "unknown_pool"


def test_cancel_of_an_unknown_claim_names_pool_and_claim(engine):
    open_now(engine, "p", 2, 1)
    claim = engine.reserve("p", "m", 1, "r").claim_id
    missing = claim[:-1] + ("0" if claim[-1] != "0" else "1")
    with pytest.raises(ClaimNotFound) as info:
        engine.cancel("p", missing)
    assert (info.value.pool_id, info.value.claim_id) == ("p", missing)


def test_sold_out_after_fall_over_reports_the_members_request(engine):
    open_now(engine, "hot", 4, 4, buckets=4)
    for m in range(4):
        assert engine.reserve("hot", f"m{m}", 1, f"r{m}").ok
    result = engine.reserve("hot", "late", 2, "late-1")
    assert result.status == "sold_out" and not result.ok
    assert (result.pool_id, result.member_id, result.qty, result.request_id) == (
        "hot", "late", 2, "late-1",
    )  # fmt: skip
    assert result.remaining == 0 and result.member_count == 0
    assert isinstance(result.bucket, int) and 0 <= result.bucket < 4


def test_hold_expiry_covers_every_bucket_and_every_batch(backend):
    engine = backend.engine(expire_batch=2)
    open_now(engine, "p", 40, 1, hold_seconds=60, buckets=3)
    held = {engine.reserve("p", f"m{i}", 1, f"r{i}").claim_id for i in range(13)}
    assert None not in held and len(held) == 13
    assert engine.expire_holds("p") == []
    expired = engine.expire_holds("p", now=time.time() + 120)
    assert sorted(expired) == sorted(held)
    stats = engine.stats("p")
    assert (stats.remaining, stats.held, stats.claimed) == (40, 0, 0)
    assert engine.expire_holds("p", now=time.time() + 240) == []


def test_hold_expiry_when_a_bucket_holds_exactly_one_batch(backend):
    engine = backend.engine(expire_batch=4)
    open_now(engine, "p", 10, 1, hold_seconds=60)
    held = [engine.reserve("p", f"m{i}", 1, f"r{i}").claim_id for i in range(4)]
    assert sorted(engine.expire_holds("p", now=time.time() + 120)) == sorted(held)
    assert engine.stats("p").remaining == 10


def test_hold_expiry_completes_a_transfer_a_crashed_fall_over_left_in_transit(engine):
    """The scheduler runs expire_holds, not stats: it alone must make stranded units sellable."""
    open_now(engine, "hot", 8, 8, hold_seconds=60, buckets=2)
    k = engine.keys("hot", 1)
    # A client lent 3 units from bucket 1 to bucket 0, then died before crediting them.
    assert engine.scripts["lend"](keys=[k.pool, k.transit], args=["xfer-1", 3, 0]) == 3
    assert engine.expire_holds("hot") == []
    won = [engine.reserve("hot", f"m{i}", 1, f"r{i}").ok for i in range(9)]
    assert won.count(True) == 8
    assert engine.expire_holds("hot") == []  # a second pass credits nothing twice
    assert engine.stats("hot").total == 8


def test_a_replay_returns_every_payload_field(engine):
    """The claim record keeps the whole payload; a replay unpacks it pair by pair (mutation
    testing: a one-field payload, the platform's voucher code, could not tell a broken unpack)."""
    open_now(engine, "p", 5, 1)
    payload = {"code": "ABCDEFGHJKMNPQRS", "channel": "app", "seat": "12"}
    first = engine.reserve("p", "ann", 1, "r1", payload)
    again = engine.reserve("p", "ann", 1, "r1", {"code": "OTHER"})
    assert again.replayed and again.claim_id == first.claim_id
    assert again.payload == payload


def test_units_borrowed_for_a_request_then_refused_stay_claimable_and_unflag_the_pool(engine):
    """The fall-over borrows a unit into the member's empty home bucket, and the reserve there
    is refused after all (here: the member reached the limit meanwhile). The answer is that
    refusal, the unit stays in the home bucket for others and the pool is not flagged sold out
    (mutation testing: buckets mutant 80, a broken flag clear on this path, survived)."""
    from inventory import LIMIT_REACHED, RESERVED
    from inventory.buckets import BUCKET_EMPTY, reserve_elsewhere
    from inventory.keys import home_bucket
    from inventory.results import ReserveResult

    open_now(engine, "p", 2, 1, buckets=2)  # one unit in each bucket
    ann = next(m for m in (f"m{i}" for i in range(50)) if home_bucket(m, 2) == 0)
    assert engine.reserve("p", ann, 1, "r1").status == RESERVED  # bucket 0 is empty now
    first = ReserveResult(BUCKET_EMPTY, "p", ann, 1, "r2", remaining=0, bucket=0)
    again = reserve_elsewhere(engine, first, 2, None, [])
    assert again.status == LIMIT_REACHED
    assert not engine.is_sold_out("p")
    assert engine.stats("p").remaining == 1
    bo = next(m for m in (f"b{i}" for i in range(50)) if home_bucket(m, 2) == 0)
    assert engine.reserve("p", bo, 1, "r3").status == RESERVED  # the borrowed unit, at home


def test_stats_say_open_until_the_last_unit_is_taken(engine):
    """What the admin console and the sale page show (mutation testing: stats mutant 80, sold
    out one unit early, survived)."""
    from inventory import SOLD_OUT

    open_now(engine, "p", 2, 1, hold_seconds=90)
    assert (engine.stats("p").status, engine.stats("p").hold_seconds) == ("open", 90)
    engine.reserve("p", "ann", 1, "r1")
    assert (engine.stats("p").status, engine.stats("p").remaining) == ("open", 1)
    engine.reserve("p", "bo", 1, "r2")
    assert (engine.stats("p").status, engine.stats("p").remaining) == (SOLD_OUT, 0)
