"""Code that runs in child processes (spawned: each builds its own client from a spec)."""

from __future__ import annotations

import multiprocessing
import os
import time

import redis
from redis.cluster import ClusterNode, RedisCluster

from inventory import OutboxConsumer, StockEngine

NAMESPACE = "t"
CTX = multiprocessing.get_context("spawn")


def connect(spec):
    kind, where = spec
    if kind == "url":
        return redis.Redis.from_url(where)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in where])


class Start:
    """The starting line: every racer waits here until all of them have arrived.

    ``wait()`` blocks on a barrier sized to the number of processes, so none begins its calls
    before the last one is ready (``Event.set()`` right after ``start()`` would let the first
    spawned process finish before the last has imported anything).
    """

    def __init__(self, parties: int):
        self.barrier = CTX.Barrier(parties)

    def wait(self) -> None:
        self.barrier.wait(timeout=60)


class Timed:
    """Per-call monotonic windows of one racer (CLOCK_MONOTONIC is shared by all processes)."""

    def __init__(self):
        self.windows: list[tuple[int, int]] = []

    def __call__(self, fn, *args):
        began = time.monotonic_ns()
        try:
            return fn(*args)
        finally:
            self.windows.append((began, time.monotonic_ns()))


class Race(list):
    """Results in job order, plus each process's per-call windows (``calls``)."""

    calls: list[list[tuple[int, int]]]

    def overlap(self) -> bool:
        """Did every process make calls before any process had made its last one?"""
        first = max(w[0][0] for w in self.calls if w)
        last = min(w[-1][1] for w in self.calls if w)
        return first < last

    def switches(self) -> int:
        """How often, in the order calls began, the caller changed from one process to another.

        Processes that ran one after the other give ``len(calls) - 1``; calls that interleaved
        give many more.
        """
        starts = sorted((b, i) for i, w in enumerate(self.calls) for b, _ in w)
        return sum(1 for (_, a), (_, b) in zip(starts, starts[1:], strict=False) if a != b)


def run_all(target, jobs: list[tuple], timeout: float = 120) -> Race:
    """Start one process per job, release them together once all are ready; results in job order.

    ``target(start, timed, *job)`` calls ``start.wait()`` when it is ready to race and wraps each
    racing call in ``timed(fn, *args)``, so the test can show that the calls interleaved.
    """
    start = Start(len(jobs))
    results = CTX.Queue()
    procs = [
        CTX.Process(target=_wrap, args=(target, i, start, results, *job))
        for i, job in enumerate(jobs)
    ]
    for p in procs:
        p.start()
    out = {}
    deadline = time.monotonic() + timeout
    while len(out) < len(procs):
        i, value = results.get(timeout=max(1.0, deadline - time.monotonic()))
        if isinstance(value, BaseException):
            raise value
        out[i] = value
    for p in procs:
        p.join(10)
    race = Race(out[i][0] for i in range(len(procs)))
    race.calls = [out[i][1] for i in range(len(procs))]
    return race


def _wrap(target, index, start, results, *args):
    timed = Timed()
    try:
        value = (target(start, timed, *args), timed.windows)
    except BaseException as exc:  # report to the parent instead of dying silently
        value = RuntimeError(f"worker {index}: {exc!r}")
    results.put((index, value))


def _engine(spec, **kwargs) -> StockEngine:
    return StockEngine(connect(spec), namespace=NAMESPACE, **kwargs)


def reserve_many(start, timed, spec, pool_id, attempts):
    """attempts: [(member_id, qty, request_id)]; returns [(status, claim_id, member, replayed)]."""
    engine = _engine(spec)
    engine.buckets(pool_id)  # warm the layout cache before the race starts
    start.wait()
    out = []
    for member_id, qty, request_id in attempts:
        payload = {"voucher": f"V-{request_id}"}
        r = timed(engine.reserve, pool_id, member_id, qty, request_id, payload)
        out.append((r.status, r.claim_id, member_id, r.replayed, r.request_id))
    return out


def settle_many(start, timed, spec, pool_id, operations):
    """operations: [(op, claim_id)] with op commit/release/cancel/expire; returns results."""
    engine = _engine(spec, expire_batch=7)  # small batches interleave with the other racers
    engine.buckets(pool_id)
    start.wait()
    out = []
    for op, claim_id in operations:
        if op == "expire":
            expired = timed(engine.expire_holds, pool_id, time.time() + 3600)
            out += [("expire", c, "expired", True) for c in expired]
        else:
            r = timed(getattr(engine, op), pool_id, claim_id)
            out.append((op, claim_id, r.state, r.changed))
    return out


def read_then_hang(spec, pool_id, group, name, count, ready):
    """Read entries without acknowledging them, report, then wait to be killed."""
    consumer = OutboxConsumer(_engine(spec), group=group, consumer=name)
    got = []
    while len(got) < count:
        got += consumer.read(pool_id, count - len(got), block_ms=100)
    ready.put((os.getpid(), [e.id for e in got]))
    time.sleep(600)


def merge_rows(start, spec, pool_id, rows, chunk):
    """Merge ``rows`` in chunks of ``chunk`` claims (so racers interleave); returns the report."""
    from dataclasses import asdict

    from inventory import recovery

    recovery.CHUNK = chunk
    engine = _engine(spec)
    engine.buckets(pool_id)
    start.wait()
    return asdict(engine.merge(pool_id, [tuple(r) for r in rows]))
