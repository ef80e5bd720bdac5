"""Redis losing its last writes: claim ids stay unique, merge puts SQL's claims back."""

from __future__ import annotations

import shutil
import time

import pytest
import redis

from inventory import LIMIT_REACHED, RESERVED, StockEngine
from inventory.keys import claim_number
from inventory.server import EmbeddedRedis

from .helpers import by_type, open_now, outbox
from .test_inventory_recovery import lose_everything


def rows_of(results):
    return [(r.claim_id, r.member_id, r.qty, r.request_id, "committed", r.payload) for r in results]


def test_restart_from_older_aof_never_reissues_a_claim_id(tmp_path):
    """A real server with AOF: copy its files, claim more, restart from the copy, claim again."""
    data = tmp_path / "redis"
    server = EmbeddedRedis(data, persistent=True, extra=["--appendfsync", "always"]).start()
    try:
        client = redis.Redis.from_url(server.url)
        engine = StockEngine(client, namespace="t")
        open_now(engine, "p", 100, 1, buckets=2)
        first = [engine.reserve("p", f"m{i}", 1, f"r{i}", {"code": f"A{i}"}) for i in range(5)]
        client.close()
        shutil.copytree(data, tmp_path / "older", ignore=shutil.ignore_patterns("*.log"))
        client = redis.Redis.from_url(server.url)
        engine = StockEngine(client, namespace="t")
        lost = [engine.reserve("p", f"m{i}", 1, f"r{i}", {"code": f"B{i}"}) for i in range(5, 15)]
        client.close()
        server.stop()
        shutil.rmtree(data)
        shutil.copytree(tmp_path / "older", data)
        server = EmbeddedRedis(data, port=server.port, persistent=True).start()
        client = redis.Redis.from_url(server.url)
        engine = StockEngine(client, namespace="t")
        assert engine.stats("p").claimed == 5  # the server really forgot the last ten claims
        after = [engine.reserve("p", f"m{i}", 1, f"r{i}", {"code": f"C{i}"}) for i in range(5, 30)]
        assert all(r.status == RESERVED and not r.replayed for r in after)
        seen = {r.claim_id for r in first + lost}
        assert not seen & {r.claim_id for r in after}
        assert all(claim_number("p", r.claim_id) % 2 == r.bucket for r in after)  # routing kept
        # Merging the lost claims back (as SQL had them) keeps both sides and counts m5..m14 twice.
        report = engine.merge("p", rows_of(lost))
        assert (report.added, report.request_clashes) == (10, 10)
        assert sorted(report.over_limit) == sorted(f"m{i}" for i in range(5, 15))
        assert engine.stats("p").claimed == 40
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("buckets", [1, 4])
def test_merge_restores_lost_claims_and_keeps_new_ones(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 10, 1, buckets=buckets)
    old = [engine.reserve("p", f"m{i}", 1, f"r{i}", {"code": f"A{i}"}) for i in range(5)]
    rows = rows_of(old)
    lose_everything(backend)  # Redis restarted from data older than the pool's claims
    open_now(engine, "p", 10, 1, buckets=buckets)
    new = [engine.reserve("p", f"n{i}", 1, f"q{i}", {"code": f"N{i}"}) for i in range(3)]
    report = engine.merge("p", rows)
    assert (report.added, report.known, report.deficit, report.over_limit) == (5, 0, 0, [])
    again = engine.merge("p", rows)  # idempotent
    assert (again.added, again.known) == (0, 5)
    stats = engine.stats("p")
    assert (stats.total, stats.claimed, stats.remaining, stats.members) == (10, 8, 2, 8)
    replay = engine.reserve("p", "m3", 1, "r3")  # the same key gets the same voucher back
    assert replay.replayed and replay.claim_id == old[3].claim_id
    assert replay.payload == {"code": "A3"}
    assert engine.reserve("p", "m3", 1, "other").status == LIMIT_REACHED
    assert engine.reserve("p", "n0", 1, "q0").claim_id == new[0].claim_id
    fresh = engine.reserve("p", "z", 1, "z1")
    assert fresh.claim_id not in {r.claim_id for r in old + new}
    assert engine.cancel("p", old[0].claim_id).changed  # restored claims settle like any other
    restored = by_type(outbox(engine, "p"), "restore")
    assert sorted(e["claim_id"] for e in restored) == sorted(r.claim_id for r in old)


@pytest.mark.parametrize("buckets", [1, 3])
def test_merge_beyond_stock_keeps_every_claim_and_reports_the_deficit(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 4, 1, buckets=buckets)
    old = [engine.reserve("p", f"m{i}", 1, f"r{i}") for i in range(4)]
    lose_everything(backend)
    open_now(engine, "p", 4, 1, buckets=buckets)
    new = [engine.reserve("p", f"n{i}", 1, f"q{i}") for i in range(3)]
    assert all(r.status == RESERVED for r in new)
    report = engine.merge("p", rows_of(old))
    assert (report.added, report.deficit) == (4, 3)
    stats = engine.stats("p")
    assert (stats.claimed, stats.remaining) == (7, 0)  # oversold by 3, nothing dropped
    assert engine.reserve("p", "late", 1, "x").status == "sold_out"


def test_restore_reopens_a_lost_pool(backend):
    engine = backend.engine()
    now = time.time()
    rows = [(f"p-{n}", f"m{n}", 1, f"r{n}", "committed", {"code": f"A{n}"}) for n in (3, 7)]
    rows.append(("p-9", "m9", 1, "r9", "cancelled", {"code": "A9"}))
    report = engine.restore("p", rows, 5, 1, now - 5, now + 60)
    assert report.created and report.added == 3
    stats = engine.stats("p")
    assert (stats.total, stats.claimed, stats.remaining, stats.status) == (5, 2, 3, "open")
    assert engine.reserve("p", "m7", 1, "r7").claim_id == "p-7"
    assert engine.reserve("p", "m9", 1, "new").status == RESERVED  # cancelled: not counted
    assert engine.restore("p", rows, 5, 1, now - 5, now + 60).known == 3
