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


def run_all(target, jobs: list[tuple], timeout: float = 120) -> list:
    """Start one process per job, release them together, return their results in job order."""
    start = CTX.Event()
    results = CTX.Queue()
    procs = [
        CTX.Process(target=_wrap, args=(target, i, start, results, *job))
        for i, job in enumerate(jobs)
    ]
    for p in procs:
        p.start()
    start.set()
    out = {}
    deadline = time.monotonic() + timeout
    while len(out) < len(procs):
        i, value = results.get(timeout=max(1.0, deadline - time.monotonic()))
        if isinstance(value, BaseException):
            raise value
        out[i] = value
    for p in procs:
        p.join(10)
    return [out[i] for i in range(len(procs))]


def _wrap(target, index, start, results, *args):
    try:
        value = target(start, *args)
    except BaseException as exc:  # report to the parent instead of dying silently
        value = RuntimeError(f"worker {index}: {exc!r}")
    results.put((index, value))


def _engine(spec, **kwargs) -> StockEngine:
    return StockEngine(connect(spec), namespace=NAMESPACE, **kwargs)


def reserve_many(start, spec, pool_id, attempts):
    """attempts: [(member_id, qty, request_id)]; returns [(status, claim_id, member, replayed)]."""
    engine = _engine(spec)
    engine.buckets(pool_id)  # warm the layout cache before the race starts
    start.wait()
    out = []
    for member_id, qty, request_id in attempts:
        r = engine.reserve(pool_id, member_id, qty, request_id, {"voucher": f"V-{request_id}"})
        out.append((r.status, r.claim_id, member_id, r.replayed, r.request_id))
    return out


def settle_many(start, spec, pool_id, operations):
    """operations: [(op, claim_id)] with op commit/release/cancel/expire; returns results."""
    engine = _engine(spec, expire_batch=7)  # small batches interleave with the other racers
    engine.buckets(pool_id)
    start.wait()
    out = []
    for op, claim_id in operations:
        if op == "expire":
            expired = engine.expire_holds(pool_id, now=time.time() + 3600)
            out += [("expire", c, "expired", True) for c in expired]
        else:
            r = getattr(engine, op)(pool_id, claim_id)
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
