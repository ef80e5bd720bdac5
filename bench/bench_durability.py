"""Cost of claim durability: ``python bench/bench_durability.py [--seconds 3] [--rounds 3]``.

One master (AOF everysec, as production) and one replica from the bundled binary on ports
7400-7499; 8 threads reserve as fast as they can for ``--seconds`` with each setting of
``CLAIM_DURABILITY`` (local, replica = WAIT 1, fsync = WAITAOF 1 0), rounds interleaved. Prints
claims/s and p50/p99 latency (medians over rounds) and the ratio against ``local`` in this run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventory import StockEngine  # noqa: E402
from loadtests.cluster_parts import master_and_replica  # noqa: E402

MODES = ("local", "replica", "fsync")


def measure(client, mode: str, seconds: float, threads: int, tag: str) -> dict:
    engine = StockEngine(client, namespace=f"bench-{tag}", durability=mode,
                         durability_timeout_ms=1000)  # fmt: skip
    now = time.time()
    engine.open_pool("p", 10_000_000, 1, now - 1, now + 3600)
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(n: int):
        mine, i = [], 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            result = engine.reserve("p", f"{n}-{i}", 1, f"r{n}-{i}")
            mine.append(time.perf_counter() - started)
            assert result.ok, result
            i += 1
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    latencies.sort()
    return {
        "claims_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as tmp, master_and_replica(Path(tmp), aof=True) as (m, _):
        for r in range(args.rounds):
            for mode in MODES:
                results[mode].append(measure(m.client, mode, args.seconds, args.threads, f"{r}"))
    base = statistics.median(x["claims_s"] for x in results["local"])
    print(f"{'durability':<10} {'claims/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'vs local':>8}")
    for mode in MODES:
        rate = statistics.median(x["claims_s"] for x in results[mode])
        p50 = statistics.median(x["p50_ms"] for x in results[mode])
        p99 = statistics.median(x["p99_ms"] for x in results[mode])
        print(f"{mode:<10} {rate:>9.0f} {p50:>7.2f} {p99:>7.2f} {rate / base:>8.2f}")


if __name__ == "__main__":
    main()
