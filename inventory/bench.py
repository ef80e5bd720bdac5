"""Benchmark: ``python -m inventory.bench [--redis-url URL] [--seconds 2] [--no-cluster]``.

Measures, against the same server, one request per call (no pipelining, as in production):
reserve calls/s with 1 and 2 client processes, the sold-out paths, the server-side cost per call
from ``INFO commandstats`` (reset with ``CONFIG RESETSTAT`` before every phase), and the same
for a minimal reference script (GET + DECR + SADD + XADD, no checks). Then ``buckets=8`` on the
standalone server and a 3-master cluster. Without ``--redis-url`` it starts its own servers from
the bundled binary (imported inside ``main`` only: the library itself stays redis + stdlib).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from contextlib import ExitStack

import redis
from redis.cluster import ClusterNode, RedisCluster

from inventory import StockEngine

CTX = multiprocessing.get_context("spawn")
NAMESPACE = "bench"
MINIMAL = """
-- Reference: the least a reservation can do. KEYS stock, members, stream; ARGV member, request,
-- voucher. No window, no limit, no replay, no claim record.
redis.call('GET', KEYS[1])
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'member_id', ARGV[1], 'request_id', ARGV[2], 'voucher', ARGV[3])
return 1
"""
MINIMAL_KEYS = ["bench:{min}:stock", "bench:{min}:members", "bench:{min}:outbox"]


def connect(spec):
    kind, where = spec
    if kind == "url":
        return redis.Redis.from_url(where)
    return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in where])


def node_clients(spec) -> list[redis.Redis]:
    kind, where = spec
    if kind == "url":
        return [redis.Redis.from_url(where)]
    return [redis.Redis(host=h, port=p) for h, p in where]


def worker(spec, kind, pool_id, seconds, proc, start, results):
    client = connect(spec)
    engine = StockEngine(
        client, namespace=NAMESPACE, local_cache_ttl=60 if kind == "cached" else None
    )
    minimal = client.register_script(MINIMAL)
    if kind != "minimal":
        engine.buckets(pool_id)
    calls = 0
    start.wait()
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(50):
            member, request = f"{proc}-{calls}", f"q{proc}-{calls}"
            if kind == "reserve":
                engine.reserve(pool_id, member, 1, request, {"voucher": f"V{calls}"})
            elif kind == "minimal":
                minimal(keys=MINIMAL_KEYS, args=[member, request, f"V{calls}"])
            elif kind == "check":
                engine.is_sold_out(pool_id)
            else:  # "sold_out" (server path) or "cached" (in-process flag)
                engine.reserve(pool_id, member, 1, request)
            calls += 1
    results.put(calls / (time.perf_counter() - began))


def run_phase(spec, kind, pool_id, procs, seconds, command="evalsha"):
    """calls/s summed over ``procs`` processes, and server µs per ``command`` call."""
    nodes = node_clients(spec)
    for node in nodes:
        node.config_resetstat()
    start, results = CTX.Event(), CTX.Queue()
    workers = [
        CTX.Process(target=worker, args=(spec, kind, pool_id, seconds, p, start, results))
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    time.sleep(1.0)  # let the spawned interpreters import and connect before the clock starts
    start.set()
    rate = sum(results.get(timeout=seconds + 60) for _ in workers)
    for w in workers:
        w.join()
    calls = usec = 0
    for node in nodes:
        stat = node.info("commandstats").get(f"cmdstat_{command}")
        if stat:
            calls += stat["calls"]
            usec += stat["usec"]
    return rate, (usec / calls if calls else float("nan"))


def prepare(spec, buckets):
    client = connect(spec)
    engine = StockEngine(client, namespace=NAMESPACE)
    now = time.time()
    pool, sold = f"hot{buckets}", f"gone{buckets}"
    engine.open_pool(pool, 10_000_000, 1, now - 5, now + 86_400, buckets=buckets)
    engine.open_pool(sold, 1, 1, now - 5, now + 86_400, buckets=buckets)
    engine.reserve(sold, "first", 1, "first")
    engine.reserve(sold, "second", 1, "second")  # a multi-bucket pool sets its flag here
    if buckets == 1:
        client.set(MINIMAL_KEYS[0], 10_000_000)
    return pool, sold


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="standalone server to use (it gets flushed)")
    parser.add_argument("--seconds", type=float, default=2.0, help="per phase")
    parser.add_argument("--no-cluster", action="store_true")
    args = parser.parse_args(argv)
    rows = []

    def phase(label, spec, kind, pool, procs, command="evalsha"):
        rate, cost = run_phase(spec, kind, pool, procs, args.seconds, command)
        rows.append((label, procs, rate, cost))
        print(f"  {label:<34} {procs} proc  {rate:>9,.0f} calls/s  {cost:6.2f} µs/call", flush=True)

    with ExitStack() as stack:
        url = args.redis_url
        if not url:
            from inventory.server import EmbeddedCluster, EmbeddedRedis

            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            url = stack.enter_context(EmbeddedRedis(f"{tmp}/standalone")).url
        spec = ("url", url)
        connect(spec).flushdb()
        hot, sold = prepare(spec, 1)
        hot8, _ = prepare(spec, 8)
        print(f"standalone {url}")
        for procs in (1, 2):
            phase("reserve (buckets=1)", spec, "reserve", hot, procs)
            phase("minimal script", spec, "minimal", hot, procs)
        phase("sold-out check (is_sold_out)", spec, "check", sold, 1, "exists")
        phase("reserve on sold-out pool", spec, "sold_out", sold, 1)
        phase("reserve, local cache hit", spec, "cached", sold, 1, "none")
        for procs in (1, 2):
            phase("reserve (buckets=8)", spec, "reserve", hot8, procs)
        if not args.no_cluster:
            if args.redis_url:
                print("cluster: skipped (pass no --redis-url to start one)")
            else:
                cluster = stack.enter_context(EmbeddedCluster(f"{tmp}/cluster"))
                cspec = ("cluster", cluster.startup_nodes)
                chot, _ = prepare(cspec, 1)
                chot8, _ = prepare(cspec, 8)
                print(f"cluster {cluster.startup_nodes}")
                for procs in (1, 2):
                    phase("cluster reserve (buckets=1)", cspec, "reserve", chot, procs)
                    phase("cluster reserve (buckets=8)", cspec, "reserve", chot8, procs)
    summarize(rows)


def summarize(rows) -> None:
    get = {(label, procs): (rate, cost) for label, procs, rate, cost in rows}
    print("\n| phase | procs | calls/s | server µs/call | vs minimal (calls/s, µs) |")
    print("|---|---|---|---|---|")
    for label, procs, rate, cost in rows:
        ref = get.get(("minimal script", procs))
        ratio = (
            f"{rate / ref[0]:.0%}, {cost / ref[1]:.2f}x"
            if ref and label != "minimal script"
            else ""
        )
        print(f"| {label} | {procs} | {rate:,.0f} | {cost:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
