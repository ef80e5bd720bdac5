"""The login storm before a sale (issue #13, item 5): password logins against token renewals.

    python bench/bench_auth.py [--rounds 3] [--duration 10] [--connections 64] [--members 3000]

Serves the platform with gunicorn (gthread, 2 workers, 4 threads: the production settings) on the
bundled Valkey and SQLite, loads it with wrk, and prints per phase the median over the rounds of
requests/s, p50/p99 and the web processes' CPU milliseconds per request (from /proc), with ratios
against ``bare`` (GET /healthz) measured in the same run:

- ``bare``    GET /healthz, the framework's floor
- ``renew``   POST /api/v1/auth/refresh, a different refresh token per request (no password hash)
- ``login``   POST /api/v1/auth/token, a different member per request (argon2id check)

Before the HTTP phases it measures the CPU of one password check in this process with the
project's parameters and with argon2-cffi's defaults (the parameters used before). Writes
bench/results-auth-<date>.json.
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
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import DEFAULT_THREADS, Server, measured_wrk, wrk  # noqa: E402
from inventory.server import EmbeddedRedis  # noqa: E402


def password_check_cpu(samples: int = 15) -> dict:
    from argon2 import PasswordHasher

    from marketplace.auth.passwords import _hasher

    result = {}
    for name, hasher in (("project", _hasher), ("argon2-cffi defaults", PasswordHasher())):
        hashed = hasher.hash("loadtest-pass")
        times = []
        for _ in range(samples):
            started = time.process_time()
            hasher.verify(hashed, "loadtest-pass")
            times.append(time.process_time() - started)
        result[name] = {"params": hashed.split("$")[3], "cpu_ms": statistics.median(times) * 1000}
    return result


def prepare(work: Path, members: int, families: int, rounds: int) -> tuple[Path, list[Path]]:
    """Members with the load-test password; one file of login bodies and, per round, a file of
    refresh-token bodies (each token can be spent once)."""
    from loadtests.prepare import LOADTEST_PASSWORD, prepare_sale
    from marketplace.auth.refresh import start_family
    from marketplace.auth.tokens import decode_token
    from shihui import create_app

    app = create_app()
    with app.app_context():
        prepare_sale(members, 10, 1, 0, work / "members", clerks=0)
        lines = (work / "members" / "tokens.csv").read_text().splitlines()[1:]
        logins = work / "logins.jsonl"
        principals = []
        with logins.open("w") as fh:
            for line in lines:
                card, token = line.split(",")
                fh.write(json.dumps({"username": card, "password": LOADTEST_PASSWORD}) + "\n")
                principals.append(decode_token(token))
        renewals = []
        for rnd in range(rounds):
            path = work / f"refresh-{rnd}.jsonl"
            with path.open("w") as fh:
                for n in range(families):
                    token = start_family(principals[n % len(principals)])["refresh_token"]
                    fh.write(json.dumps({"refresh_token": token}) + "\n")
            renewals.append(path)
    return logins, renewals


def phase(env, path, script, wargs, args) -> dict:
    with Server("shihui.wsgi:app", env, "gthread", 2, DEFAULT_THREADS) as srv:
        wrk(srv.url("/healthz"), "get.lua", [], 1, args.connections)  # warm-up (imports, pools)
        return measured_wrk(srv, path, script, wargs, args.duration, args.connections)


def main() -> int:
    parser = argparse.ArgumentParser(description="login storm: logins against renewals")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--families", type=int, default=60_000, help="refresh tokens per round")
    parser.add_argument("--out", default=str(ROOT / "bench" / f"results-auth-{date.today()}.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-auth-bench-"))
    server = EmbeddedRedis(work / "redis").start()
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=f"sqlite:///{work}/bench.db",
               PYTHONPATH=str(ROOT), LOGIN_IP_LIMIT="10000000/minute",
               LOGIN_PAIR_LIMIT="10000000/minute",
               LOGIN_ACCOUNT_LIMIT="10000000/minute")  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL")})  # fmt: skip
    try:
        hashes = password_check_cpu()
        for name, figures in hashes.items():
            print(f"password check, {name} ({figures['params']}): "
                  f"{figures['cpu_ms']:.1f} ms CPU", flush=True)  # fmt: skip
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        logins, renewals = prepare(work, args.members, args.families, args.rounds)
        results: dict[str, list[dict]] = {}
        for rnd in range(args.rounds):
            phases = {
                "bare": ("/healthz", "get.lua", []),
                "renew": ("/api/v1/auth/refresh", "post_json.lua", [str(renewals[rnd]), "2"]),
                "login": ("/api/v1/auth/token", "post_json.lua", [str(logins), "2"]),
            }
            for name, (path, script, wargs) in phases.items():
                results.setdefault(name, []).append(phase(env, path, script, wargs, args))
                r = results[name][-1]
                print(f"round {rnd + 1} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, web CPU {r['web_cpu_ms']:.2f} ms/req, "
                      f"statuses {r['statuses']}, errors {r['errors']}", flush=True)  # fmt: skip
        med = {
            name: {key: statistics.median(r[key] for r in rs)
                   for key in ("rps", "p50_ms", "p99_ms", "web_cpu_ms")}
            for name, rs in results.items()
        }  # fmt: skip
        print(f"\nmedians of {args.rounds} rounds, {args.connections} connections, "
              f"load average {os.getloadavg()[0]:.1f}:")  # fmt: skip
        for name, m in med.items():
            print(f"  {name:6} {m['rps']:8,.0f} req/s  p50 {m['p50_ms']:6.1f} ms  "
                  f"p99 {m['p99_ms']:7.1f} ms  web CPU {m['web_cpu_ms']:6.2f} ms/req  "
                  f"{m['rps'] / med['bare']['rps']:.2f} of bare")  # fmt: skip
        Path(args.out).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg": os.getloadavg(), "args": vars(args), "password_check": hashes,
            "medians": med, "rounds": results,
        }, indent=2))  # fmt: skip
        print(f"wrote {args.out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
