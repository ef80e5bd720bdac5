"""Rebuilding a pool from the system of record after Redis lost everything."""

from __future__ import annotations

import time

import pytest
from redis.cluster import RedisCluster

from inventory import LIMIT_REACHED, RESERVED, RebuildMismatch, StockBelowClaimed

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
