"""``reserve_many``: a batch answers exactly as the same reserves one by one (a lottery draw's
40,000 vouchers take one round trip per 500 instead of one each)."""

from __future__ import annotations

import time

import pytest

from inventory import CLOSED, LIMIT_REACHED, RESERVED, SOLD_OUT, PoolNotFound

from .helpers import by_type, open_now, outbox

# Members a, b, c, d; limit 2, stock 6. The sequence meets every decision of the script: new
# reserves, a member at their limit, a replayed request id (answered, not refused, even at the
# limit and after the sell-out), a qty of 2, the last unit, then sold out.
REQUESTS = [
    ("a", 1, "r1", {"code": "A1"}),
    ("b", 2, "r1", {"code": "B1"}),
    ("a", 1, "r2", {"code": "A2"}),
    ("a", 1, "r3", {"code": "A3"}),  # a is at the limit of 2
    ("a", 1, "r1", {"code": "ignored"}),  # replay: the first answer, payload A1
    ("c", 2, "r1", {"code": "C1"}),  # 2 left: takes the last units
    ("c", 1, "r9", None),  # c at the limit
    ("d", 1, "r1", {"code": "D1"}),  # sold out
    ("b", 2, "r1", None),  # replay after the sell-out
]


def view(results):
    """What must agree between a batch and single calls (claim ids are clock-based)."""
    return [
        (r.status, r.member_id, r.qty, r.remaining, r.member_count, r.replayed, r.payload)
        for r in results
    ]


def test_batch_answers_as_single_reserves_in_order(engine):
    open_now(engine, "one", 6, 2)
    open_now(engine, "many", 6, 2)
    singles = [engine.reserve("one", m, q, r, p, use_cache=False) for m, q, r, p in REQUESTS]
    batch = engine.reserve_many("many", REQUESTS, chunk=4)  # chunks split the sequence too
    assert view(batch) == view(singles)
    statuses = [r.status for r in batch]
    assert statuses == [RESERVED, RESERVED, RESERVED, LIMIT_REACHED, RESERVED, RESERVED,
                        LIMIT_REACHED, SOLD_OUT, RESERVED]  # fmt: skip
    assert batch[4].replayed and batch[4].claim_id == batch[0].claim_id
    assert batch[4].payload == {"code": "A1"}
    # The same records and outbox entries as the single calls wrote.
    fields = ("remaining", "claimed", "held", "members", "status")
    assert [getattr(engine.stats("many"), f) for f in fields] == [
        getattr(engine.stats("one"), f) for f in fields
    ]
    claims = by_type(outbox(engine, "many"), "claim")
    assert [(e["member_id"], e["qty"], e.get("code")) for e in claims] == [
        ("a", "1", "A1"), ("b", "2", "B1"), ("a", "1", "A2"), ("c", "2", "C1")
    ]  # fmt: skip
    assert len({e["claim_id"] for e in claims}) == 4


def test_batch_replayed_is_idempotent(engine):
    """A draw that resumes sends the whole batch again: every request is a replay, nothing
    changes."""
    open_now(engine, "p", 10, 1)
    requests = [(f"m{i}", 1, "draw", {"code": f"V{i}"}) for i in range(7)]
    first = engine.reserve_many("p", requests, chunk=3)
    again = engine.reserve_many("p", requests, chunk=3)
    assert all(r.status == RESERVED and not r.replayed for r in first)
    assert all(r.replayed for r in again)
    assert [r.claim_id for r in again] == [r.claim_id for r in first]
    assert engine.stats("p").remaining == 3
    assert len(by_type(outbox(engine, "p"), "claim")) == 7


def test_batch_on_a_closed_pool_and_an_unknown_pool(engine):
    now = time.time()
    engine.open_pool("shut", 5, 1, now - 60, now - 1)
    assert [r.status for r in engine.reserve_many("shut", [("a", 1, "r", None)] * 2)] == [
        CLOSED,
        CLOSED,
    ]
    with pytest.raises(PoolNotFound):
        engine.reserve_many("nope", [("a", 1, "r", None)])
    with pytest.raises(ValueError):
        engine.reserve_many("shut", [("a", 0, "r", None)])


def test_batch_survives_a_script_flush(engine):
    """Redis restarted without its scripts: each call that found none runs again, loaded."""
    open_now(engine, "p", 5, 1)
    engine.client.script_flush()  # on a cluster: every primary
    results = engine.reserve_many("p", [(f"m{i}", 1, "r", None) for i in range(3)])
    assert [r.status for r in results] == [RESERVED] * 3
    assert engine.stats("p").remaining == 2


def test_batch_on_a_bucketed_pool_takes_requests_one_by_one(engine):
    """Several buckets: a refusal may fall over to another bucket before the next request, so
    the batch is single reserves; limits and the stock still hold."""
    open_now(engine, "b", 6, 1, buckets=3)
    results = engine.reserve_many("b", [(f"m{i}", 1, "r", None) for i in range(8)] +
                                  [("m0", 1, "r2", None)])  # fmt: skip
    assert [r.status for r in results].count(RESERVED) == 6
    assert [r.status for r in results[6:8]] == [SOLD_OUT, SOLD_OUT]
    assert results[8].status in (LIMIT_REACHED, SOLD_OUT)
    assert engine.stats("b").remaining == 0


def test_batch_marks_the_sold_out_cache(backend):
    engine = backend.engine(local_cache_ttl=30)
    open_now(engine, "p", 2, 1)
    engine.reserve_many("p", [("a", 1, "r", None), ("b", 1, "r", None)])
    late = engine.reserve("p", "c", 1, "r")
    assert late.status == SOLD_OUT and late.cached
