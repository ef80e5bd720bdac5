"""The per-member budget that reserve enforces inside its script (issue #13, item 3)."""

from __future__ import annotations

import time

import pytest

from inventory import LIMIT_REACHED, RATE_LIMITED, RESERVED

from .helpers import open_now


def fields_of(engine, pool_id, prefix: str, buckets: int = 1) -> dict[str, str]:
    out = {}
    for b in range(buckets):
        for name, value in engine.client.hscan_iter(engine.keys(pool_id, b).pool, match=prefix):
            out[name.decode()] = value.decode()
    return out


def test_burst_then_refused_with_retry_after_and_nothing_changes(engine):
    open_now(engine, "b1", 100, 10)
    answers = [engine.reserve("b1", "7", 1, f"r{i}", rate=0.1, burst=3) for i in range(5)]
    assert [a.status for a in answers] == [RESERVED] * 3 + [RATE_LIMITED] * 2
    assert 9 < answers[3].retry_after <= 10  # one unit every 10 s
    assert answers[3].remaining == 97 and answers[3].member_count == 3
    stats = engine.stats("b1")
    assert (stats.remaining, stats.claimed) == (97, 3)  # the refusals took nothing
    assert engine.reserve("b1", "8", 1, "r0", rate=0.1, burst=3).ok  # budgets are per member


def test_refusals_spend_the_budget_and_replays_do_not(engine):
    open_now(engine, "b2", 100, 1)
    first = engine.reserve("b2", "7", 1, "k1", {"code": "A"}, rate=0.1, burst=2)
    assert first.ok
    assert engine.reserve("b2", "7", 1, "k2", rate=0.1, burst=2).status == LIMIT_REACHED
    assert engine.reserve("b2", "7", 1, "k3", rate=0.1, burst=2).status == RATE_LIMITED
    for _ in range(5):  # a retry of the won request is answered before the budget is asked
        again = engine.reserve("b2", "7", 1, "k1", {"code": "B"}, rate=0.1, burst=2)
        assert again.replayed and again.claim_id == first.claim_id
        assert again.payload == {"code": "A"}


def test_budget_refills_at_the_rate(engine):
    open_now(engine, "b3", 100, 100)
    assert engine.reserve("b3", "7", 1, "a", rate=5, burst=1).ok
    refused = engine.reserve("b3", "7", 1, "b", rate=5, burst=1)
    assert refused.status == RATE_LIMITED and 0 < refused.retry_after <= 0.2
    time.sleep(refused.retry_after + 0.01)
    assert engine.reserve("b3", "7", 1, "b", rate=5, burst=1).ok


def test_without_a_budget_nothing_is_stored(engine):
    open_now(engine, "b4", 100, 100)
    for i in range(20):
        assert engine.reserve("b4", "7", 1, f"r{i}").ok
    assert fields_of(engine, "b4", "q:*") == {}


@pytest.mark.parametrize("buckets", [1, 4])
def test_one_field_per_member_deleted_with_the_pool(backend, buckets):
    engine = backend.engine()
    open_now(engine, "b5", 8, 1, buckets=buckets)
    for m in range(40):  # 8 win, the rest are refused (sold out or an empty bucket)
        engine.reserve("b5", str(m), 1, "k", rate=1, burst=2)
    assert len(fields_of(engine, "b5", "q:*", buckets)) == 40
    assert engine.stats("b5").claimed == 8
    engine.retire_pool("b5")
    assert not any(backend.client.exists(k) for k in _all_keys(engine, "b5", buckets))


def _all_keys(engine, pool_id, buckets):
    for b in range(buckets):
        k = engine.keys(pool_id, b)
        yield from (k.pool, k.holds, k.transit, k.outbox, k.soldout)


def test_multi_bucket_budget_lives_in_the_home_bucket(backend):
    """A fall-over to other buckets does not spend the budget a second time."""
    engine = backend.engine()
    open_now(engine, "b6", 4, 4, buckets=4)
    won = [engine.reserve("b6", "7", 1, f"r{i}", rate=0.01, burst=4) for i in range(5)]
    assert [w.status for w in won] == [RESERVED] * 4 + [RATE_LIMITED]
    assert len(fields_of(engine, "b6", "q:*", 4)) == 1


def test_bad_budget_is_refused(engine):
    open_now(engine, "b7", 1, 1)
    with pytest.raises(ValueError):
        engine.reserve("b7", "7", 1, "r", rate=0)
    with pytest.raises(ValueError):
        engine.reserve("b7", "7", 1, "r", rate=1, burst=0.5)
