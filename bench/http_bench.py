"""HTTP benchmarks for BENCHMARKS.md: the claim endpoint against its references, in one run.

    python bench/http_bench.py [--rounds 3] [--duration 10] [--connections 64]

Phases (each serves with gunicorn and loads with wrk on this machine; figures are medians
over ``--rounds``):

- ``ref``       bench/ref_app.py: bare Flask view + one small Lua script (the framework ceiling)
- ``claim``     the platform's POST /api/v1/flashsales/<id>/claims (auth, budget, idempotency,
                engine, problem+json), with the outbox drainer running as in production;
                ``claim-nodrain`` the same with the drainer paused (the endpoint alone)
- ``naive``     bench/naive_sql_app.py on PostgreSQL: one transaction per claim
- ``soldout``   the claim endpoint on a sold-out sale, and ``bare``: GET /healthz of the platform
- ``claim-<class>-<n>`` worker class and process count variants of the claim endpoint
Then: last claim -> last voucher row delay, and voucher persistence rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory.server import EmbeddedRedis, free_port  # noqa: E402

WRK = ROOT / "bench" / "wrk"


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


class Server:
    def __init__(self, app: str, env: dict, worker_class: str, workers: int, threads: int = 8):
        self.port = free_port()
        self.env = dict(env, WEB_BIND=f"127.0.0.1:{self.port}", WEB_WORKERS=str(workers),
                        WEB_WORKER_CLASS=worker_class, WEB_THREADS=str(threads),
                        WEB_WORKER_CONNECTIONS="1000", LOG_LEVEL="WARNING")  # fmt: skip
        self.app = app

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:shihui.gunicorn_conf", self.app],
            env=self.env, cwd=ROOT, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{self.port}/healthz", self.proc)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def wrk(url: str, script: str, args: list[str], duration: int, connections: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
           "-s", str(WRK / script), url]  # fmt: skip
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    result = json.loads(line[len("WRK_JSON ") :])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [master, *map(int, out.split())]


def measured_wrk(srv: Server, path: str, script: str, wargs: list[str], duration: int,
                 connections: int) -> dict:  # fmt: skip
    """wrk against ``srv``, plus the web processes' CPU milliseconds per request."""
    pids = server_pids(srv.proc.pid)
    before = cpu_seconds(pids)
    result = wrk(srv.url(path), script, wargs, duration, connections)
    result["web_cpu_ms"] = (cpu_seconds(pids) - before) * 1000 / max(result["requests"], 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description="claim endpoint benchmarks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/shihui_bench")
    parser.add_argument("--skip-variants", action="store_true", help="only the main phases")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-bench-"))
    server = EmbeddedRedis(work / "redis").start()
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=f"sqlite:///{work}/bench.db",
               PYTHONPATH=str(ROOT))  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL")})  # fmt: skip
    drainer = None
    try:
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        sale, soldout = setup_sales(work, args.members)
        tokens = str(work / "main" / "tokens.csv")
        claim_path = f"/api/v1/flashsales/{sale}/claims"
        soldout_path = f"/api/v1/flashsales/{soldout}/claims"
        drainer = subprocess.Popen([sys.executable, "-m", "shihui", "flashsale", "drain",
                                    "--follow"], env=env, cwd=ROOT)  # fmt: skip
        rclient = redis.Redis.from_url(server.url)
        rclient.set("ref:{1}:stock", 10**9)
        naive_ok = naive_available(args.pg_url)
        naive_env = dict(
            env, BENCH_DATABASE_URL=args.pg_url.replace("postgresql://", "postgresql+psycopg://")
        )
        phases = {
            "ref": ("bench.ref_app:app", env, "/claim/1", "claims.lua", ["x", "member-header"]),
            "claim": ("shihui.wsgi:app", env, claim_path, "claims.lua", [tokens]),
            # the endpoint alone: the drainer is paused (SIGSTOP) and catches up afterwards
            "claim-nodrain": ("shihui.wsgi:app", env, claim_path, "claims.lua", [tokens]),
            "soldout": ("shihui.wsgi:app", env, soldout_path, "claims.lua", [tokens]),
            "bare": ("shihui.wsgi:app", env, "/healthz", "get.lua", []),
        }
        if naive_ok:
            phases["naive"] = ("bench.naive_sql_app:app", naive_env, "/claim/1", "claims.lua",
                               ["x", "member-header"])  # fmt: skip
        variants = [] if args.skip_variants else [
            ("sync", 5, 1), ("gthread", 1, 8), ("gevent", 2, 1), ("gevent", 1, 1),
        ]  # fmt: skip
        results: dict[str, list[dict]] = {}
        for rnd in range(args.rounds):
            for name, (app, penv, path, script, wargs) in phases.items():
                if name == "naive":
                    reset_naive(naive_env)
                if name == "claim-nodrain":
                    drainer.send_signal(signal.SIGSTOP)
                try:
                    result = run_phase(app, penv, path, script, wargs, args)
                finally:
                    drainer.send_signal(signal.SIGCONT)
                results.setdefault(name, []).append(result)
                print(f"round {rnd + 1} {name}: {summary(results[name][-1])}", flush=True)
            for klass, workers, threads in variants:
                name = f"claim-{klass}-{workers}"
                results.setdefault(name, []).append(run_phase(
                    "shihui.wsgi:app", env, claim_path, "claims.lua", [tokens], args,
                    klass=klass, workers=workers, threads=threads))  # fmt: skip
                print(f"round {rnd + 1} {name}: {summary(results[name][-1])}", flush=True)
        persistence = measure_drain(sale)
        report(results, persistence, args)
    finally:
        if drainer:
            drainer.terminate()
            drainer.wait(20)
        server.stop()
    return 0


def run_phase(app, env, path, script, wargs, args, klass="gthread", workers=2, threads=8):
    with Server(app, env, klass, workers, threads) as srv:
        wrk(srv.url(path), script, wargs, 2, args.connections)  # warm-up
        return wrk(srv.url(path), script, wargs, args.duration, args.connections)


def summary(r: dict) -> str:
    return (f"{r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"statuses {r['statuses']}, errors {r['errors']}")  # fmt: skip


def setup_sales(work: Path, members: int) -> tuple[int, int]:
    from loadtests.prepare import prepare_sale
    from shihui import create_app

    app = create_app()
    with app.app_context():
        main = prepare_sale(members, 10_000_000, 1000, 0, work / "main", clerks=1)
        soldout = prepare_sale(1, 1, 1, 0, work / "soldout", clerks=1)
    return main["campaign_id"], soldout["campaign_id"]


def naive_available(url: str) -> bool:
    from sqlalchemy import create_engine, text

    base = url.rsplit("/", 1)[0] + "/postgres"
    try:
        engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://"),
                               isolation_level="AUTOCOMMIT")  # fmt: skip
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname='shihui_bench'"))
            if not exists.first():
                conn.execute(text("CREATE DATABASE shihui_bench"))
        engine.dispose()
        return True
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for this script
        print(f"naive SQL phase skipped: {exc}")
        return False


def reset_naive(env: dict) -> None:
    code = "from bench.naive_sql_app import reset; reset(10**9)"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def measure_drain(sale: int, claims: int = 20_000) -> dict:
    """Claims as fast as one process can make them, then how long until SQL has them all."""
    from sqlalchemy import func, select

    from flashsale.hotpath import get_engine
    from flashsale.models import Voucher
    from marketplace.extensions import db
    from shihui import create_app

    app = create_app()
    with app.app_context():
        engine = get_engine()
        count = lambda: db.session.execute(  # noqa: E731
            select(func.count()).where(Voucher.campaign_id == sale)).scalar_one()  # fmt: skip
        deadline = time.monotonic() + 120
        while count() < engine.stats(str(sale)).claimed and time.monotonic() < deadline:
            time.sleep(0.2)  # let earlier phases' claims land first
        before = count()
        t0 = time.monotonic()
        for n in range(claims):
            engine.reserve(str(sale), str(10_000_000 + n % 5000), 1, f"drain-{n}",
                           {"code": f"D{n:015d}"})  # fmt: skip
        t_last_claim = time.monotonic()
        target = before + claims
        while True:
            db.session.rollback()
            if count() >= target or time.monotonic() - t_last_claim > 120:
                break
            time.sleep(0.01)
        t_done = time.monotonic()
    return {"claims": claims, "claim_seconds": round(t_last_claim - t0, 3),
            "last_claim_to_last_row_s": round(t_done - t_last_claim, 3),
            "rows_per_s": round(claims / (t_done - t0), 1)}  # fmt: skip


def report(results: dict, persistence: dict, args) -> None:
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50_ms", "p99_ms")}
           for n, rs in results.items()}  # fmt: skip
    print("\nphase                    req/s     p50 ms   p99 ms")
    for name, m in med.items():
        print(f"{name:<22} {m['rps']:>9,.0f} {m['p50_ms']:>9.1f} {m['p99_ms']:>8.1f}")
    ratios = {}
    if "ref" in med:
        ratios["claim / ref"] = med["claim"]["rps"] / med["ref"]["rps"]
        ratios["claim (drainer paused) / ref"] = med["claim-nodrain"]["rps"] / med["ref"]["rps"]
    if "naive" in med:
        ratios["claim / naive SQL"] = med["claim"]["rps"] / med["naive"]["rps"]
    ratios["soldout / bare"] = med["soldout"]["rps"] / med["bare"]["rps"]
    print()
    for name, value in ratios.items():
        print(f"{name:<22} {value:.2f}")
    print(f"\npersistence: {persistence}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"http-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"medians": med, "ratios": ratios, "persistence": persistence,
                                "rounds": results, "args": vars(args)}, indent=2))  # fmt: skip
    print(f"results: {path}")


if __name__ == "__main__":
    sys.exit(main())
