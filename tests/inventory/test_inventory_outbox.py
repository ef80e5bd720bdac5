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
