"""Real-time delivery (issue #16 item 4): how many open Server-Sent Events connections one
``messaging.realtime_server`` process holds, what each costs, and how fast events reach them.

Starts the real-time process on a free port against a real Redis, opens ``--connections`` SSE
connections from one asyncio client (each with its own member channel plus one shared admin
channel), then measures, first with a baseline of ``--baseline`` connections and then with all:

- memory per connection: the server's RSS growth divided by the connections it holds;
- targeted latency: ``--events`` events published (one ``PUBLISH`` each, from this process, as a
  web process would) to random members' channels, publish -> line read by the client;
- fan-out latency: events published on the shared channel, which every connection hears.

Prints the figures, the ratios to the baseline and writes JSON (``--out``).

    nice -n 10 .venv/bin/python bench/bench_realtime.py --redis redis://127.0.0.1:6379/5 \
        --connections 10000 --out bench/results-realtime-$(date +%F).json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.request

import redis

SECRET = "bench-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - a throwaway server
NAMESPACE = "benchrt"
TS = re.compile(rb"\"ts\": ?([0-9.]+)")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Client:
    def __init__(self, port: int):
        self.port = port
        self.received: list[float] = []
        self.tasks: list[asyncio.Task] = []
        self.ready = 0
        self.failed = 0

    async def one(self, token: str) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=4096)
            writer.write(f"GET /events?t={token} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    self.failed += 1
                    return
                if line.startswith(b"event: ready"):
                    self.ready += 1
                elif m := TS.search(line):
                    self.received.append(time.time() - float(m.group(1)))
        except (OSError, asyncio.IncompleteReadError):
            self.failed += 1

    async def open(self, tokens: list[str], batch: int = 250) -> None:
        target = self.ready + len(tokens)
        for i in range(0, len(tokens), batch):
            self.tasks += [asyncio.create_task(self.one(t)) for t in tokens[i : i + batch]]
            deadline = time.monotonic() + 30
            while self.ready + self.failed < min(target, len(self.tasks)) and (
                time.monotonic() < deadline
            ):
                await asyncio.sleep(0.02)


async def measure(client: Client, pub: redis.Redis, members: int, events: int, fan: int,
                  pace: float) -> dict:  # fmt: skip
    prefix = f"{NAMESPACE}:rt:"
    client.received.clear()
    for _ in range(events):
        m = random.randrange(members)
        pub.publish(f"{prefix}m:{m}", json.dumps({"type": "bench", "ts": time.time()}))
        await asyncio.sleep(pace)
    await asyncio.sleep(1.0)
    targeted = list(client.received)
    client.received.clear()
    for _ in range(fan):
        pub.publish(f"{prefix}o:1", json.dumps({"type": "bench", "ts": time.time()}))
        await asyncio.sleep(max(1.0, members / 5000))
    await asyncio.sleep(1.0)
    fanout = list(client.received)
    ms = 1000
    return {
        "connections": members,
        "targeted_sent": events,
        "targeted_received": len(targeted),
        "targeted_p50_ms": round(statistics.median(targeted) * ms, 2) if targeted else None,
        "targeted_p99_ms": round(pct(targeted, 99) * ms, 2),
        "fanout_events": fan,
        "fanout_received": len(fanout),
        "fanout_p50_ms": round(statistics.median(fanout) * ms, 2) if fanout else None,
        "fanout_p99_ms": round(pct(fanout, 99) * ms, 2),
    }


async def run(args) -> dict:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from inventory.server import free_port
    from messaging.realtime_server import serializer

    port = free_port()
    env = dict(os.environ, REALTIME_BIND=f"127.0.0.1:{port}", REALTIME_REDIS_URL=args.redis,
               REDIS_URL=args.redis, SECRET_KEY=SECRET, REDIS_NAMESPACE=NAMESPACE,
               LOG_LEVEL="WARNING")  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "messaging.realtime_server"], env=env)
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        for _ in range(100):
            try:
                if json.load(urllib.request.urlopen(health, timeout=1))["subscribed"]:  # noqa: S310
                    break
            except OSError:
                pass
            await asyncio.sleep(0.1)
        signer = serializer(SECRET)
        tokens = [signer.dumps([f"m:{i}", "o:1"]) for i in range(args.connections)]
        pub = redis.Redis.from_url(args.redis)
        client = Client(port)
        rss_idle = rss_kb(server.pid)
        out: dict = {"rss_idle_kb": rss_idle}
        await client.open(tokens[: args.baseline])
        await asyncio.sleep(0.5)
        base = await measure(client, pub, client.ready, args.events, 3, args.pace)
        base["rss_kb"] = rss_kb(server.pid)
        out["baseline"] = base
        t0 = time.monotonic()
        await client.open(tokens[args.baseline :])
        out["open_seconds"] = round(time.monotonic() - t0, 1)
        await asyncio.sleep(1.0)
        full = await measure(client, pub, client.ready, args.events, 3, args.pace)
        full["rss_kb"] = rss_kb(server.pid)
        full["failed_connections"] = client.failed
        out["full"] = full
        served = json.load(urllib.request.urlopen(health, timeout=5))  # noqa: S310
        out["server_says_connections"] = served["connections"]
        grown = full["rss_kb"] - base["rss_kb"]
        added = max(1, full["connections"] - base["connections"])
        out["kb_per_connection"] = round(grown / added, 2)
        out["p99_ratio_full_vs_baseline"] = round(
            full["targeted_p99_ms"] / max(base["targeted_p99_ms"], 0.01), 2
        )
        for t in client.tasks:
            t.cancel()
        return out
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis", default=os.environ.get("RQ_REDIS_URL", "redis://127.0.0.1:6379/5")
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--pace", type=float, default=0.005, help="seconds between events")
    parser.add_argument("--out")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    load_before = os.getloadavg()[0]
    result = asyncio.run(run(args))
    result["machine"] = {"cores": os.cpu_count(), "load_before": load_before,
                         "load_after": os.getloadavg()[0]}  # fmt: skip
    b, f = result["baseline"], result["full"]
    print(f"connections held: {f['connections']} (asked {args.connections}, failed "
          f"{f['failed_connections']}, server counts {result['server_says_connections']}); "
          f"opened in {result['open_seconds']} s")  # fmt: skip
    print(f"memory: {result['kb_per_connection']} KB per connection "
          f"(server RSS {result['rss_idle_kb']} KB idle -> {f['rss_kb']} KB)")  # fmt: skip
    for name, r in (("baseline", b), ("full", f)):
        print(f"{name:8} {r['connections']:>6} conns: targeted p50 {r['targeted_p50_ms']} ms "
              f"p99 {r['targeted_p99_ms']} ms ({r['targeted_received']}/{r['targeted_sent']}); "
              f"fan-out to all p50 {r['fanout_p50_ms']} ms p99 {r['fanout_p99_ms']} ms "
              f"({r['fanout_received']} deliveries)")  # fmt: skip
    print(f"targeted p99 ratio full/baseline: {result['p99_ratio_full_vs_baseline']}; "
          f"load average {load_before:.1f} -> {result['machine']['load_after']:.1f}")  # fmt: skip
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
