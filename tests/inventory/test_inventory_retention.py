"""Bounded Redis memory: acknowledged outbox entries are trimmed, retired pools leave nothing."""

from __future__ import annotations

import time

import pytest

from inventory import OutboxConsumer, PoolNotFound, keys_memory, trim_stream

from .conftest import NAMESPACE
from .helpers import open_now


def namespace_bytes(client) -> tuple[int, list[str]]:
    """MEMORY USAGE summed over every key of the test namespace (SCAN: every node of a cluster)."""
    keys = sorted({k.decode() for k in client.scan_iter(match=f"{NAMESPACE}:*", count=1000)})
    return keys_memory(client, keys), keys


def settled_used(client) -> int:
    """used_memory once the server's lazy-free thread has freed what DEL handed it."""
    for _ in range(500):
        info = client.info("memory")
        if not int(info.get("lazyfree_pending_objects", 0)):
            return int(info["used_memory"])
        time.sleep(0.01)
    raise AssertionError("lazy free never finished")


def claim_batch(engine, pool, start, n):
    for i in range(start, start + n):
        assert engine.reserve(pool, f"m{i}", 1, f"r{i}", {"code": f"C{i:015d}"}).ok


def drain(consumer, pool):
    while entries := consumer.read(pool, count=500):
        consumer.ack(pool, entries)


@pytest.mark.parametrize("buckets", [1, 4])
def test_trim_keeps_what_a_group_still_needs(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 100, 1, buckets=buckets)
    claim_batch(engine, "p", 0, 60)
    persist = OutboxConsumer(engine, group="persist", consumer="c1")
    read = persist.read("p", count=40)
    persist.ack("p", read[:25])  # 15 stay pending, 20 were never delivered
    assert persist.trim("p") == 25
    left = sum(engine.client.xlen(k) for k in engine.outbox_streams("p"))
    assert left == 35
    assert persist.pending("p") == 15 and persist.lag("p") == 35
    # The pending ones are still readable (a crashed consumer's entries are taken over).
    again = persist.recover("p", min_idle_ms=0, count=100)
    assert {e.id for e in again} == {e.id for e in read[25:]}
    assert all(e.fields["type"] == "claim" for e in again)
    # A second group that has read nothing pins every entry of its streams.
    audit = OutboxConsumer(engine, group="audit", consumer="a1")
    audit.lag("p")  # creates the group at the start of each stream
    persist.ack("p", again)
    drain(persist, "p")
    assert persist.trim("p") == 0
    assert sum(engine.client.xlen(k) for k in engine.outbox_streams("p")) == 35
    drain(audit, "p")
    assert audit.trim("p") == 35
    assert sum(engine.client.xlen(k) for k in engine.outbox_streams("p")) == 0
    # Trimmed streams keep working: new claims are read, acknowledged and trimmed again.
    claim_batch(engine, "p", 60, 10)
    assert persist.lag("p") == 10 and len(persist.read("p", count=100)) == 10


def test_outbox_stays_bounded_while_claims_flow(backend):
    engine = backend.engine()
    open_now(engine, "live", 5000, 1)
    consumer = OutboxConsumer(engine, group="persist", consumer="c1")
    stream = engine.outbox_streams("live")[0]
    peak = 0
    for start in range(0, 4000, 200):
        claim_batch(engine, "live", start, 200)
        peak = max(peak, engine.client.xlen(stream))
        drain(consumer, "live")
        consumer.trim("live")
        assert engine.client.xlen(stream) == 0
    assert peak == 200  # never more than one batch, though 4,000 claims went through
    assert engine.stats("live").claimed == 4000


def test_trim_leaves_streams_without_groups_alone(engine):
    open_now(engine, "p", 10, 1)
    claim_batch(engine, "p", 0, 5)
    assert OutboxConsumer(engine, group="g").lag("p") == 5  # creates the group, reads nothing
    stream = engine.outbox_streams("p")[0]
    assert trim_stream(engine.client, stream) == 0  # the group has not been given any entry
    engine.client.xgroup_destroy(stream, "g")
    assert trim_stream(engine.client, stream) == 0 and engine.client.xlen(stream) == 5
    assert trim_stream(engine.client, f"{NAMESPACE}:no-such-stream") == 0


def test_retire_pool_deletes_every_key_and_is_idempotent(backend):
    engine = backend.engine()
    open_now(engine, "gone", 50, 1, buckets=4)
    claim_batch(engine, "gone", 0, 50)  # sold out: the sold-out flag exists too
    consumer = OutboxConsumer(engine, group="persist", consumer="c1")
    drain(consumer, "gone")
    # Another process's consumer, which knows the pool from before (cached bucket count).
    elsewhere = OutboxConsumer(backend.engine(), group="persist", consumer="c2")
    assert elsewhere.read("gone", count=10) == []
    assert engine.memory_usage("gone") > 0
    assert engine.retire_pool("gone") >= 2 * 4  # a pool hash and an outbox per bucket (+flags)
    assert namespace_bytes(engine.client) == (0, [])
    assert engine.active_pools() == set() and engine.memory_usage("gone") == 0
    assert engine.retire_pool("gone") == 0
    with pytest.raises(PoolNotFound):
        engine.reserve("gone", "late", 1, "r-late")
    # Mid-pass consumers elsewhere read nothing and recreate nothing; here the pool is unknown.
    assert elsewhere.read("gone", count=10) == [] and elsewhere.lag("gone") == 0
    assert elsewhere.recover("gone", min_idle_ms=0) == [] and elsewhere.trim("gone") == 0
    with pytest.raises(PoolNotFound):
        consumer.read("gone", count=10)
    assert namespace_bytes(engine.client) == (0, [])


def test_memory_returns_to_baseline_after_many_sales(backend):
    """20 sales x 500 claims back to back: live bytes grow with claims, retired sales leave
    nothing, and the server's used_memory comes back to where it started."""
    engine = backend.engine()
    client = engine.client
    used = (lambda: settled_used(client)) if backend.name == "standalone" else None
    baseline_keys = namespace_bytes(client)
    baseline_used = used() if used else None
    consumer = OutboxConsumer(engine, group="persist", consumer="c1")
    live_per_claim = []
    for sale in range(20):
        pool = f"sale{sale}"
        now = time.time()
        engine.open_pool(pool, 500, 1, now - 5, now + 3600)
        claim_batch(engine, pool, 0, 500)
        live_per_claim.append(engine.memory_usage(pool) / 500)
        drain(consumer, pool)
        consumer.trim(pool)
        engine.close_pool(pool)
        engine.retire_pool(pool)
        assert namespace_bytes(client) == baseline_keys, f"sale {sale} left keys behind"
    assert min(live_per_claim) > 100  # the pool really held every claim while live
    if used:
        # Allocator slack and client buffers: within 256 KiB of the start, while the sales
        # together held ~20 x 500 x live_per_claim bytes (about 2 MB).
        assert abs(used() - baseline_used) < 256 * 1024, (used(), baseline_used)
        assert 20 * 500 * min(live_per_claim) > 1_000_000


@pytest.mark.parametrize("buckets", [1, 4])
def test_cap_outbox_empties_an_unread_outbox_and_spares_what_a_group_needs(backend, buckets):
    engine = backend.engine()
    open_now(engine, "unread", 100, 1, buckets=buckets)
    claim_batch(engine, "unread", 0, 30)
    assert engine.cap_outbox("unread", keep=0) == 30
    assert sum(engine.client.xlen(k) for k in engine.outbox_streams("unread")) == 0
    assert engine.stats("unread").claimed == 30  # the pool itself is untouched
    claim_batch(engine, "unread", 30, 5)
    lengths = [engine.client.xlen(k) for k in engine.outbox_streams("unread")]
    assert engine.cap_outbox("unread", keep=1) == sum(n - 1 for n in lengths if n)
    after = [engine.client.xlen(k) for k in engine.outbox_streams("unread")]
    assert after == [min(n, 1) for n in lengths]  # the newest entry of each stream stays

    open_now(engine, "read", 100, 1, buckets=buckets)
    claim_batch(engine, "read", 0, 20)
    consumer = OutboxConsumer(engine, group="persist", consumer="c1")
    consumer.ack("read", consumer.read("read", count=8))
    assert engine.cap_outbox("read") == 8  # a group reads it: only the acknowledged go
    assert consumer.lag("read") == 12
    assert engine.cap_outbox("gone") == 0
