"""Rebuilding a pool from the system of record after Redis lost everything."""

from __future__ import annotations

import time

import pytest
from redis.cluster import RedisCluster

from inventory import LIMIT_REACHED, RESERVED, PoolNotFound, RebuildMismatch, StockBelowClaimed
from inventory.keys import home_bucket

from .helpers import open_now


def lose_everything(backend):
    if backend.name == "cluster":
        backend.client.flushall(target_nodes=RedisCluster.ALL_NODES)
    else:
        backend.client.flushdb()


@pytest.mark.parametrize("buckets", [1, 4])
def test_rebuild_restores_counts_replays_and_sequence(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 10, 2, hold_seconds=600, buckets=buckets)
    made = {}
    for i, member in enumerate(["ann", "ann", "bo", "cy", "di"]):
        r = engine.reserve("p", member, 1, f"r{i}", {"voucher": f"V{i}"})
        made[r.claim_id] = (member, 1, f"r{i}", {"voucher": f"V{i}"})
    ids = list(made)
    engine.commit("p", ids[0])
    engine.commit("p", ids[2])
    engine.release("p", ids[3])
    engine.commit("p", ids[4])
    engine.cancel("p", ids[4])
    before = engine.stats("p")
    status = {ids[0]: "committed", ids[1]: "held", ids[2]: "committed", ids[3]: "released",
              ids[4]: "cancelled"}  # fmt: skip
    rows = [(c, m, q, rid, status[c], payload) for c, (m, q, rid, payload) in made.items()]

    lose_everything(backend)
    now = time.time()
    after = engine.rebuild("p", rows, 10, 2, now - 5, now + 3600, 600, buckets, id_gap=100)

    assert (after.total, after.remaining, after.claimed, after.held, after.members) == (
        before.total, before.remaining, before.claimed, before.held, before.members,
    )  # fmt: skip
    replay = engine.reserve("p", "ann", 1, "r1")
    assert replay.replayed and replay.claim_id == ids[1] and replay.payload == {"voucher": "V1"}
    assert engine.reserve("p", "ann", 1, "new").status == LIMIT_REACHED
    fresh = engine.reserve("p", "ed", 1, "new")
    assert fresh.status == RESERVED
    highest = max(int(c.rsplit("-", 1)[1]) for c in ids)
    assert int(fresh.claim_id.rsplit("-", 1)[1]) > highest + 100
    assert engine.commit("p", ids[1]).changed  # the restored hold is live again
    assert engine.cancel("p", ids[0]).changed


def test_rebuild_refuses_inconsistent_input(engine):
    now = time.time()
    with pytest.raises(StockBelowClaimed):
        engine.rebuild("p", [("p-1", "ann", 3, "r", "committed")], 2, 5, now, now + 60)
    with pytest.raises(RebuildMismatch):
        wrong = [(f"p-{n}", "ann", 1, f"r{n}", "committed") for n in range(1, 5)]
        engine.rebuild("p", wrong, 10, 5, now, now + 60, buckets=4)
    with pytest.raises(RebuildMismatch):
        engine.rebuild("p", [("p-1", "ann", 1, "r", "held")], 10, 5, now, now + 60)


def test_rebuild_sets_the_sold_out_flag_exactly_when_no_stock_is_left(backend):
    """The flag is what every web process's sold-out cache is fed from: a rebuilt pool with stock
    left must not carry it (members would be refused tickets that exist), a rebuilt pool with
    none must (found by mutation testing: neither case was checked)."""
    engine = backend.engine()
    now = time.time()
    rows = [("p-1", "ann", 1, "r1", "committed"), ("p-2", "bo", 1, "r2", "committed")]
    engine.rebuild("p", rows, 2, 1, now - 5, now + 3600)
    assert engine.is_sold_out("p")
    engine.rebuild("p", rows, 3, 1, now - 5, now + 3600)  # over the flagged pool: one left
    assert not engine.is_sold_out("p")
    assert engine.reserve("p", "cy", 1, "r3").status == RESERVED
    assert engine.is_sold_out("p")  # the last ticket flags it again, as a reserve does


def test_rebuilt_holds_run_from_the_rebuild_and_finished_claims_hold_nothing(backend):
    engine = backend.engine()
    now = time.time()
    rows = [("p-1", "ann", 1, "r1", "held"), ("p-2", "bo", 1, "r2", "committed")]
    before = time.time()
    engine.rebuild("p", rows, 5, 1, now - 5, now + 3600, hold_seconds=600)
    after = time.time()
    held = engine.reserve("p", "ann", 1, "r1")
    assert held.replayed and held.hold_until is not None
    assert before + 600 - 0.01 <= held.hold_until <= after + 600 + 0.01, (before, held.hold_until)
    done = engine.reserve("p", "bo", 1, "r2")
    assert done.replayed and done.hold_until is None
    assert engine.stats("p").held == 1


def test_restore_of_a_lost_multi_bucket_pool_opens_every_bucket(backend):
    """Redis lost the pool entirely: restore reopens it closed, merges SQL's claims, then opens
    it. Every bucket must open, or the members whose home is not bucket 0 could never claim
    (found by mutation testing: restore mutant 40, only bucket 0 opened, survived)."""
    engine = backend.engine()
    now = time.time()
    report = engine.restore("p", [], 40, 1, now - 5, now + 3600, buckets=4)
    assert report.created
    wins = [engine.reserve("p", f"m{i}", 1, f"r{i}") for i in range(40)]
    assert [w.status for w in wins] == [RESERVED] * 40
    assert {w.bucket for w in wins} == {0, 1, 2, 3}


def test_merge_into_a_pool_that_does_not_exist_raises_pool_not_found(backend):
    engine = backend.engine()
    with pytest.raises(PoolNotFound):
        engine.merge("gone", [("gone-1", "ann", 1, "r1", "committed")])
    # Lost after this process learnt its bucket count: the merge script itself says so.
    open_now(engine, "p", 5, 1)
    lose_everything(backend)
    with pytest.raises(PoolNotFound):
        engine.merge("p", [("p-1", "ann", 1, "r1", "committed")])


def test_merge_covers_a_short_bucket_from_the_others_free_stock(backend):
    """Restored claims land in their members' home buckets; one that ends short of stock takes
    the difference from the other buckets, so the pool's total still holds (no deficit)."""
    engine = backend.engine()
    open_now(engine, "p", 8, 5, buckets=2)  # 4 + 4
    home = next(m for m in (f"m{i}" for i in range(50)) if home_bucket(m, 2) == 0)
    rows = [(f"p-{2 * k}", home, 1, f"r{k}", "committed") for k in range(1, 6)]  # 5 in bucket 0
    report = engine.merge("p", rows)
    assert (report.added, report.deficit) == (5, 0), report
    stats = engine.stats("p")
    assert (stats.total, stats.claimed, stats.remaining) == (8, 5, 3)


def test_merge_names_the_claims_it_cannot_restore(backend):
    """A claim id that does not route to its member's bucket, an unknown status, or a hold in a
    pool without holds is not restored, and the report names it for the operator."""
    engine = backend.engine()
    open_now(engine, "p", 10, 5, buckets=2)
    home0 = next(m for m in (f"m{i}" for i in range(50)) if home_bucket(m, 2) == 0)
    rows = [
        ("p-2", home0, 1, "ok", "committed"),  # number 2 -> bucket 0: restored
        ("p-3", home0, 1, "wrong-bucket", "committed"),
        ("p-4", home0, 1, "odd", "lost"),
        ("p-6", home0, 1, "hold", "held"),
        ("q-8", home0, 1, "other-pool", "committed"),
    ]
    report = engine.merge("p", rows)
    assert report.added == 1
    assert sorted(report.mismatched) == ["p-3", "p-4", "p-6", "q-8"]
