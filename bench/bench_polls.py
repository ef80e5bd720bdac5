"""What every phone polls (issue #13, item 4): the sale and the sale list against a bare GET.

    python bench/bench_polls.py [--rounds 3] [--duration 10] [--connections 64] [--sales 20]

Serves the platform with gunicorn (gthread, 2 workers, 4 threads: the production settings) on the
bundled Valkey and SQLite, loads it with wrk (a different member token per request), and prints
per phase the median over the rounds of requests/s, p50/p99 and the web processes' CPU
milliseconds per request (from /proc), with the ratio to ``bare`` measured in the same run:

- ``bare``       GET /healthz, the framework's floor
- ``sale``       GET /api/v1/flashsales/<id> (auth, the sale with its remaining stock)
- ``list``       GET /api/v1/flashsales (auth, the first page of ``--sales`` sales)
- ``sale-304`` / ``list-304``  the same with If-None-Match of the current ETag (when the code
                 under test sends one)

Writes bench/results-polls-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import DEFAULT_THREADS, Server, measured_wrk, wrk  # noqa: E402
from inventory.server import EmbeddedRedis  # noqa: E402


def prepare(work: Path, members: int, sales: int) -> tuple[int, Path]:
    """``sales`` published sales; the first one's ``members`` members and their tokens."""
    from loadtests.prepare import prepare_sale
    from shihui import create_app

    app = create_app()
    with app.app_context():
        first = prepare_sale(members, 1_000_000, 1, 0, work / "sale-0", clerks=0)
        for n in range(1, sales):
            prepare_sale(1, 1000, 1, 0, work / f"sale-{n}", clerks=0)
    return first["campaign_id"], work / "sale-0" / "tokens.csv"


def etag_of(url: str, tokens: Path) -> str:
    token = tokens.read_text().splitlines()[1].split(",")[1]
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback
        return resp.headers.get("ETag") or ""


def phase(env, path, wargs, args, conditional=False) -> dict:
    with Server("shihui.wsgi:app", env, "gthread", 2, args.threads) as srv:
        script = "get.lua" if path == "/healthz" else "get_auth.lua"
        wrk(srv.url(path), script, wargs, 2, args.connections)  # warm-up (imports, pools)
        if conditional:
            wargs = [*wargs, etag_of(srv.url(path), Path(wargs[0]))]
        return measured_wrk(srv, path, script, wargs, args.duration, args.connections)


def main() -> int:
    parser = argparse.ArgumentParser(description="sale polling against a bare GET")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--sales", type=int, default=20)
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="gunicorn threads per worker"
    )
    parser.add_argument("--no-304", action="store_true", help="skip the If-None-Match phases")
    parser.add_argument("--out", default=str(ROOT / "bench" / f"results-polls-{date.today()}.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-polls-bench-"))
    server = EmbeddedRedis(work / "redis").start()
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=f"sqlite:///{work}/bench.db",
               PYTHONPATH=str(ROOT))  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL")})  # fmt: skip
    try:
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        sale, tokens = prepare(work, args.members, args.sales)
        phases = {
            "bare": ("/healthz", [], False),
            "sale": (f"/api/v1/flashsales/{sale}", [str(tokens)], False),
            "list": ("/api/v1/flashsales", [str(tokens)], False),
        }
        if not args.no_304:
            phases["sale-304"] = (f"/api/v1/flashsales/{sale}", [str(tokens)], True)
            phases["list-304"] = ("/api/v1/flashsales", [str(tokens)], True)
        results: dict[str, list[dict]] = {}
        for rnd in range(args.rounds):
            for name, (path, wargs, conditional) in phases.items():
                results.setdefault(name, []).append(phase(env, path, wargs, args, conditional))
                r = results[name][-1]
                print(f"round {rnd + 1} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, web CPU {r['web_cpu_ms']:.2f} ms/req, "
                      f"statuses {r['statuses']}, errors {r['errors']}", flush=True)  # fmt: skip
        med = {
            name: {key: statistics.median(r[key] for r in rs)
                   for key in ("rps", "p50_ms", "p99_ms", "web_cpu_ms")}
            for name, rs in results.items()
        }  # fmt: skip
        load = os.getloadavg()
        print(f"\nmedians of {args.rounds} rounds, {args.connections} connections, "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}:")  # fmt: skip
        for name, m in med.items():
            print(f"  {name:9} {m['rps']:8,.0f} req/s  p50 {m['p50_ms']:6.1f} ms  "
                  f"p99 {m['p99_ms']:7.1f} ms  web CPU {m['web_cpu_ms']:6.2f} ms/req  "
                  f"{m['rps'] / med['bare']['rps']:.2f} of bare")  # fmt: skip
        Path(args.out).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg": load, "args": vars(args), "medians": med, "rounds": results,
        }, indent=2))  # fmt: skip
        print(f"wrote {args.out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
