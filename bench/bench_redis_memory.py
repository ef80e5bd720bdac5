"""Redis bytes per claim: live, drained (outbox trimmed), and after the pool is retired.

``python bench/bench_redis_memory.py [--claims 20000] [--sales 3] [--redis-url URL]``

Runs sales through the engine's own API, as the flash-sale claim path does (a 16-character
voucher code as payload, an Idempotency-Key-sized request id, numeric member ids), drains the
outbox with a consumer group the way ``flashsale.jobs`` does (read, acknowledge, ``XTRIM MINID``)
and retires the pool. For each phase it prints the exact ``MEMORY USAGE ... SAMPLES 0`` of the
pool's keys and the change of the server's ``used_memory``. Without ``--redis-url`` it starts the
bundled server (a throwaway one: the figures are cleaner on an empty server).
"""

from __future__ import annotations

import argparse
import secrets
import time
import uuid

import redis

from inventory import OutboxConsumer, StockEngine
from inventory.retention import pool_keys

NAMESPACE = "membench"


def exact_bytes(client, keys) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return {k: int(v or 0) for k, v in zip(keys, pipe.execute(), strict=True)}


def by_kind(sizes: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, size in sizes.items():
        kind = key.rsplit(":", 1)[1]
        out[kind] = out.get(kind, 0) + size
    return out


def used(client) -> int:
    """``used_memory`` once the server's background thread has freed what DEL handed it
    (``lazyfree-lazy-user-del``: large keys are freed asynchronously)."""
    for _ in range(200):
        info = client.info("memory")
        if not int(info.get("lazyfree_pending_objects", 0)):
            break
        time.sleep(0.01)
    return int(info["used_memory"])


def run_sale(engine, consumer, pool: str, claims: int, batch: int, drain_while: bool) -> dict:
    client = engine.client
    now = time.time()
    engine.open_pool(pool, claims, 1, now - 5, now + 3600)
    start = used(client)
    peak_stream = 0
    for i in range(claims):
        code = secrets.token_hex(8).upper()
        result = engine.reserve(pool, str(1_000_000 + i), 1, str(uuid.uuid4()), {"code": code})
        assert result.ok, result
        if drain_while and i % batch == batch - 1:
            peak_stream = max(peak_stream, client.xlen(engine.outbox_streams(pool)[0]))
            _drain(consumer, pool)
    keys = pool_keys(engine, pool)
    live = by_kind(exact_bytes(client, keys))
    live_used = used(client) - start
    _drain(consumer, pool)
    drained = by_kind(exact_bytes(client, keys))
    engine.close_pool(pool)
    engine.retire_pool(pool)
    retired = sum(exact_bytes(client, keys).values())
    return {
        "live": live, "live_used": live_used, "drained": drained, "retired": retired,
        "retired_used": used(client) - start, "peak_stream": peak_stream,
    }  # fmt: skip


def _drain(consumer, pool) -> None:
    while entries := consumer.read(pool, count=500):
        consumer.ack(pool, entries)
    consumer.trim(pool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--sales", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="drain every N claims")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    server = None
    if args.redis_url:
        client = redis.Redis.from_url(args.redis_url)
    else:
        import tempfile

        from inventory.server import EmbeddedRedis

        server = EmbeddedRedis(tempfile.mkdtemp(prefix="membench-")).start()
        client = redis.Redis.from_url(server.url)
    try:
        engine = StockEngine(client, namespace=NAMESPACE)
        consumer = OutboxConsumer(engine, group="vouchers", consumer="bench")
        baseline = used(client)
        n = args.claims
        print(f"{args.sales} sales x {n:,} claims, server {client.info('server')['redis_version']}")
        for s in range(args.sales):
            # The first sale never drains until it ends (the measurement); the others
            # drain every --batch claims, as the drainer does while a sale runs.
            r = run_sale(engine, consumer, f"s{s}", n, args.batch, drain_while=s > 0)
            live, drained = r["live"], r["drained"]
            total_live = sum(live.values())
            print(
                f"sale {s} ({'drained while live' if s else 'no drain until the end'}):\n"
                f"  live:    {total_live / n:6.1f} B/claim = pool {live.get('pool', 0) / n:.1f}"
                f" + outbox {live.get('outbox', 0) / n:.1f} + other "
                f"{(total_live - live.get('pool', 0) - live.get('outbox', 0)) / n:.1f}"
                f"  ({total_live / 2**20:.2f} MiB; used_memory +{r['live_used'] / 2**20:.2f} MiB)"
            )
            print(
                f"  drained: {sum(drained.values()) / n:6.1f} B/claim (outbox "
                f"{drained.get('outbox', 0)} B after trim; peak stream length "
                f"{r['peak_stream']:,} entries)"
            )
            print(
                f"  retired: {r['retired'] / n:6.1f} B/claim (keys left: {r['retired']} B;"
                f" used_memory {r['retired_used']:+,} B vs before the sale)"
            )
        print(f"used_memory after all sales: {used(client) - baseline:+,} B vs the start")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
