"""Outbox consumers: batches, acknowledgements, lag, and taking over from a killed consumer."""

from __future__ import annotations

import os
import signal

import pytest

from inventory import OutboxConsumer

from .helpers import open_now
from .workers import CTX, read_then_hang


@pytest.mark.parametrize("buckets", [1, 4])
def test_read_ack_pending_and_lag(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 20, 1, buckets=buckets)
    for i in range(12):
        engine.reserve("p", f"m{i}", 1, f"r{i}", {"voucher": f"V{i}"})
    consumer = OutboxConsumer(engine, group="persist", consumer="c1")
    assert consumer.lag("p") == 12 and consumer.pending("p") == 0
    batch = consumer.read("p", count=5)
    assert len(batch) == 5 and consumer.pending("p") == 5 and consumer.lag("p") == 12
    assert consumer.ack("p", batch) == 5
    rest = consumer.read("p", count=100)
    assert len(rest) == 7 and consumer.read("p", count=100, block_ms=10) == []
    consumer.ack("p", rest)
    assert (consumer.lag("p"), consumer.pending("p")) == (0, 0)
    seen = {e.fields["claim_id"]: e.fields for e in batch + rest}
    assert len(seen) == 12 and all(f["voucher"] == "V" + f["member_id"][1:] for f in seen.values())
    assert len(engine.outbox_streams("p")) == buckets
    other = OutboxConsumer(engine, group="audit", consumer="a1")
    assert other.lag("p") == 12  # every group sees every record


def test_plain_ids_ack_a_one_bucket_pool(engine):
    open_now(engine, "p", 5, 1)
    engine.reserve("p", "a", 1, "r")
    consumer = OutboxConsumer(engine, consumer="c1")
    [entry] = consumer.read("p", 10)
    assert consumer.ack("p", [entry.id]) == 1


@pytest.mark.parametrize("buckets", [1, 4])
def test_entries_of_a_killed_consumer_are_recovered(backend, buckets):
    engine = backend.engine()
    open_now(engine, "p", 50, 1, buckets=buckets)
    claims = {engine.reserve("p", f"m{i}", 1, f"r{i}").claim_id for i in range(40)}
    ready = CTX.Queue()
    child = CTX.Process(
        target=read_then_hang, args=(backend.spec, "p", "persist", "dead", 40, ready)
    )
    child.start()
    try:
        pid, read_ids = ready.get(timeout=60)
        assert len(read_ids) == 40
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    assert child.exitcode == -signal.SIGKILL

    survivor = OutboxConsumer(engine, group="persist", consumer="alive")
    assert survivor.read("p", 100) == []  # nothing new: all 40 wait at the dead consumer
    assert (survivor.pending("p"), survivor.lag("p")) == (40, 40)
    taken = survivor.recover("p", min_idle_ms=0, count=100)
    assert sorted(e.id for e in taken) == sorted(read_ids)
    assert {e.fields["claim_id"] for e in taken} == claims
    assert survivor.ack("p", taken) == 40
    assert (survivor.pending("p"), survivor.lag("p")) == (0, 0)


def _fill(engine, pool, members):
    return {engine.reserve(pool, m, 1, f"r-{m}").claim_id for m in members}


def test_small_reads_rotate_over_the_buckets_and_respect_the_count(engine):
    """A busy bucket cannot starve the others: each read starts at the next bucket."""
    open_now(engine, "p", 200, 1, buckets=4)
    _fill(engine, "p", [f"m{i}" for i in range(80)])
    sizes = [engine.client.xlen(k) for k in engine.outbox_streams("p")]
    assert all(sizes), sizes  # every bucket has entries
    consumer = OutboxConsumer(engine, consumer="c1")
    firsts = [consumer.read("p", count=1) for _ in range(4)]
    assert [len(batch) for batch in firsts] == [1, 1, 1, 1]
    assert sorted(batch[0].bucket for batch in firsts) == [0, 1, 2, 3]
    batch = consumer.read("p", count=30)
    assert len(batch) == 30  # filled from several buckets, never more than asked
    assert len({e.bucket for e in batch}) > 1
    rest = consumer.read("p", count=1000)
    assert len(rest) == 80 - 34
    assert {(e.bucket, e.id) for e in rest}.isdisjoint((e.bucket, e.id) for e in batch)
    for entries in [*firsts, batch, rest]:
        for e in entries:
            assert engine.client.xrange(engine.outbox_streams("p")[e.bucket], e.id, e.id)
            assert e.pool_id == "p" and e.fields["member_id"].startswith("m")
    assert consumer.ack("p", [e for b in firsts for e in b] + batch + rest) == 80
    assert consumer.pending("p") == 0


def test_a_blocking_read_returns_an_entry_that_arrives_while_it_waits(engine):
    import threading
    import time

    open_now(engine, "p", 5, 1)
    consumer = OutboxConsumer(engine, consumer="c1")
    assert consumer.read("p", block_ms=10) == []
    timer = threading.Timer(0.3, lambda: engine.reserve("p", "late", 1, "r-late"))
    timer.start()
    start = time.monotonic()
    entries = consumer.read("p", count=10, block_ms=5000)
    timer.join()
    assert [(e.pool_id, e.bucket, e.fields["member_id"]) for e in entries] == [("p", 0, "late")]
    assert time.monotonic() - start < 4


def test_a_retired_pool_reads_nothing_and_its_streams_are_not_recreated(engine):
    open_now(engine, "p", 5, 1, buckets=2)
    _fill(engine, "p", ["a", "b", "c"])
    consumer = OutboxConsumer(engine, consumer="c1")
    consumer.read("p", count=1)  # groups exist; the engine knows the bucket count
    streams = engine.outbox_streams("p")
    for key in streams:  # what a retirer in another process deletes
        engine.client.delete(key)
    assert consumer.read("p", count=10, block_ms=10) == []
    assert consumer.recover("p", min_idle_ms=0) == []
    assert consumer.lag("p") == 0
    assert not any(engine.client.exists(key) for key in streams)
    engine.retire_pool("p")
    assert consumer.trim("p") == 0  # retired: nothing to trim, no error


def test_recover_skips_and_acknowledges_entries_trimmed_meanwhile(engine):
    open_now(engine, "p", 10, 1)
    _fill(engine, "p", ["a", "b", "c", "d"])
    dead = OutboxConsumer(engine, consumer="dead")
    read = dead.read("p", count=10)
    [key] = engine.outbox_streams("p")
    engine.client.xdel(key, read[0].id, read[1].id)  # gone from the stream, still pending
    survivor = OutboxConsumer(engine, consumer="alive")
    taken = survivor.recover("p", min_idle_ms=0, count=10)
    assert [e.id for e in taken] == [read[2].id, read[3].id]
    assert all(e.fields["type"] == "claim" for e in taken)
    assert survivor.pending("p") == 2  # the two deleted ones were acknowledged
    assert survivor.ack("p", taken) == 2 and survivor.pending("p") == 0


def test_recover_takes_at_most_count_across_buckets_and_only_idle_entries(engine):
    import time

    open_now(engine, "p", 100, 1, buckets=3)
    claims = _fill(engine, "p", [f"m{i}" for i in range(30)])
    dead = OutboxConsumer(engine, consumer="dead")
    assert len(dead.read("p", count=100)) == 30
    survivor = OutboxConsumer(engine, consumer="alive")
    assert survivor.recover("p", min_idle_ms=60_000, count=100) == []  # not idle long enough
    time.sleep(0.05)
    first = survivor.recover("p", min_idle_ms=10, count=7)
    assert len(first) == 7
    rest = survivor.recover("p", min_idle_ms=10, count=100)
    assert len(rest) == 23
    assert {e.fields["claim_id"] for e in first + rest} == claims
    assert {e.bucket for e in rest} == {0, 1, 2}


def test_lag_counts_undelivered_entries_after_deletions(engine):
    """After XDEL the server cannot tell a group's lag; the consumer counts what is left."""
    open_now(engine, "p", 10, 1)
    _fill(engine, "p", ["a", "b", "c", "d", "e"])
    consumer = OutboxConsumer(engine, consumer="c1")
    first = consumer.read("p", count=1)
    [key] = engine.outbox_streams("p")
    ids = [i for i, _ in engine.client.xrange(key)]
    engine.client.xdel(key, ids[3])
    assert consumer.lag("p") == 3 + 1  # b, c, e undelivered (d deleted), a pending
    consumer.ack("p", first)
    assert consumer.lag("p") == 3


def test_trim_keeps_only_what_is_not_acknowledged(engine):
    open_now(engine, "p", 10, 1, buckets=2)
    _fill(engine, "p", [f"m{i}" for i in range(6)])
    consumer = OutboxConsumer(engine, consumer="c1")
    batch = consumer.read("p", count=4)
    consumer.ack("p", batch)
    assert consumer.trim("p") == 4
    assert sum(engine.client.xlen(k) for k in engine.outbox_streams("p")) == 2
    assert consumer.lag("p") == 2 and consumer.trim("p") == 0
