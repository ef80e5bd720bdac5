"""HTTP benchmarks for BENCHMARKS.md: the claim endpoint against its references, in one run, in
the production shape (issue #13).

    python bench/http_bench.py [--rounds 3] [--duration 10] [--connections 64]
                               [--databases postgresql sqlite] [--variants]

For each database (PostgreSQL first: a database this script drops and creates on the machine's
server; then SQLite, the second, labelled column), the platform is prepared as ``shihui up``
runs it: the outbox drainer (``shihui flashsale drain --follow``) and an RQ worker
(``shihui worker``) beside gunicorn (gthread, 2 workers, 4 threads, the production settings),
on a bundled Valkey. Each phase serves with gunicorn and loads with wrk (64 connections, a
different member token and Idempotency-Key per request); figures are medians over ``--rounds``:

- ``ref``       bench/ref_app.py: bare Flask view + one small Lua script (the framework ceiling),
                under the same gunicorn settings
- ``claim``     the platform's POST /api/v1/flashsales/<id>/claims with the drainer writing the
                vouchers into SQL meanwhile; ``claim-nodrain`` the same with the drainer paused
- ``soldout``   the claim endpoint on a sold-out sale, and ``bare``: GET /healthz of the platform
- ``claim-flask``, ``soldout-flask``  the same with ``FASTLANE=0`` (marketplace/fastlane.py off:
                every request through Flask's request machinery)
- ``naive``     bench/naive_sql_app.py on PostgreSQL: one transaction per claim
- ``claim-<class>-<n>`` (``--variants``) worker class and process count variants

Per phase: requests/s, p50/p99 and CPU milliseconds per request of the web processes, the
drainer, the RQ worker (with its work-horses) and the PostgreSQL backends of the platform's
database (from /proc; the CPU per request is the figure that survives a noisy machine). Then the
issue's targets are checked and, per database, the last claim -> last voucher row delay with the
drainer running. Writes bench/results/http-<time>.json.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import profile_http  # noqa: E402 - bench/, beside this script

from inventory.server import EmbeddedRedis, free_port  # noqa: E402
from shihui.gunicorn_conf import DEFAULT_THREADS  # noqa: E402

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
    def __init__(self, app: str, env: dict, worker_class: str, workers: int,
                 threads: int = DEFAULT_THREADS):  # fmt: skip
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


def cpu_seconds(pids: list[int], children: bool = False) -> float:
    """User + system CPU seconds of ``pids`` (with ``children``: plus their reaped children's,
    e.g. an RQ worker's finished work-horses)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
        if children:
            total += int(fields[13]) + int(fields[14])  # cutime + cstime
    return total / os.sysconf("SC_CLK_TCK")


def server_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [master, *map(int, out.split())]


def process_tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        todo += map(int, out.split())
    return pids


def established_by_process(port: int) -> collections.Counter:
    """How many established connections on local ``port`` each process holds (from /proc:
    the server side of each connection, found by its socket inode among the processes' fds)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if int(local.rsplit(":", 1)[1], 16) == port and state == "01":  # 01: ESTABLISHED
            inodes.add(f"socket:[{inode}]")
    owners: collections.Counter = collections.Counter()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:  # the process ended meanwhile, or is not ours
            continue
        owners[int(fd_dir.parent.name)] += sum(link in inodes for link in links)
    return +owners  # only the processes that hold some


def measured_wrk(srv: Server, path: str, script: str, wargs: list[str], duration: int,
                 connections: int, others: dict | None = None,
                 profile: Path | None = None) -> dict:  # fmt: skip
    """wrk against ``srv``, plus CPU milliseconds per request: ``web_cpu_ms`` for the web
    processes and ``<name>_cpu_ms`` for each of ``others`` (name -> callable returning CPU
    seconds so far, e.g. the drainer, the worker, the database server's backends). With
    ``profile`` (a path prefix), py-spy samples every web worker meanwhile
    (bench/profile_http.py): ``profile_us`` is their Python time per request, by part."""
    pids = server_pids(srv.proc.pid)
    others = others or {}
    before = cpu_seconds(pids)
    others_before = {name: read() for name, read in others.items()}
    spies = None
    if profile is not None:  # every worker, for the run's first (duration - 2) seconds
        spies = profile_http.start(pids[1:], max(duration - 2, 1), profile)
    # Mid-run, how wrk's keep-alive connections are spread over the workers: each stays with
    # the worker that accepted it (gunicorn_conf.reuse_port; a 10/54 split doubles the tail).
    result_split: list = []
    split = threading.Timer(duration / 2, lambda: result_split.append(
        sorted(established_by_process(srv.port).values(), reverse=True)))  # fmt: skip
    split.start()
    result = wrk(srv.url(path), script, wargs, duration, connections)
    split.join()
    result["connections_per_worker"] = result_split[0] if result_split else []
    requests = max(result["requests"], 1)
    result["web_cpu_ms"] = (cpu_seconds(pids) - before) * 1000 / requests
    for name, read in others.items():
        result[f"{name}_cpu_ms"] = (read() - others_before[name]) * 1000 / requests
    if spies is not None:  # requests in the sampled window: the run's rate over its length
        sampled = result["rps"] * max(duration - 2, 1)
        result["profile_us"] = profile_http.per_request(profile_http.finish(spies), sampled)
    return result


class PgBackends:
    """CPU seconds of the PostgreSQL backends serving one database (the server's processes for
    its connections, read from /proc: the benchmark runs on the database's machine). A backend
    that started during a phase counts whole; one that ended during it is lost (pools keep
    their connections, so that is rare)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.name = url.rsplit("/", 1)[1]
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                                    pool_size=1, max_overflow=0)  # fmt: skip
        self.seen: dict[int, float] = {}

    def __call__(self) -> float:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :db "
                     "AND pid <> pg_backend_pid()"), {"db": self.name},
            ).scalars().all()  # fmt: skip
        for pid in pids:
            self.seen[pid] = cpu_seconds([pid]) or self.seen.get(pid, 0.0)
        return sum(self.seen.values())


def recreate_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/postgres"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


PHASES = ("ref", "claim", "claim-nodrain", "soldout", "bare", "naive")


def main() -> int:
    parser = argparse.ArgumentParser(description="claim endpoint benchmarks")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--databases", nargs="+", default=["postgresql", "sqlite"],
                        choices=["postgresql", "sqlite"])  # fmt: skip
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/shihui_bench_http",
                        help="the platform's database (dropped and created)")  # fmt: skip
    parser.add_argument("--naive-url", default="postgresql://postgres@127.0.0.1:5432/shihui_bench")
    parser.add_argument("--variants", action="store_true", help="worker class/count variants too")
    parser.add_argument("--phases", nargs="+", metavar="PHASE",
                        help="only these phases (e.g. ref claim); default: all")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"gunicorn threads per worker, both apps (production: {DEFAULT_THREADS})",
    )
    parser.add_argument("--profile", action="store_true",
                        help="py-spy every web worker during each measured run (bench/"
                             "profile_http.py): Python µs per request by part; the sampler "
                             "takes some CPU, so quote req/s from runs without it")  # fmt: skip
    args = parser.parse_args()

    results: dict[str, dict[str, list[dict]]] = {}
    persistence: dict[str, dict] = {}
    for label in args.databases:
        results[label], persistence[label] = run_database(label, args)
    report(results, persistence, args)
    return 0


def run_database(label: str, args) -> tuple[dict, dict]:
    """Every phase, ``--rounds`` times, with the platform on ``label``'s database and the
    drainer and an RQ worker running beside the web server, as ``shihui up`` runs them."""
    work = Path(tempfile.mkdtemp(prefix=f"shihui-bench-{label}-"))
    server = EmbeddedRedis(work / "redis").start()
    if label == "postgresql":
        recreate_database(args.pg_url)
        database_url = args.pg_url
    else:
        database_url = f"sqlite:///{work}/bench.db"
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=database_url,
               PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL")})  # fmt: skip
    drainer = worker = None
    try:
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        sale, soldout = setup_sales(work, args.members)
        tokens = str(work / "main" / "tokens.csv")
        claim_path = f"/api/v1/flashsales/{sale}/claims"
        soldout_path = f"/api/v1/flashsales/{soldout}/claims"
        drainer = subprocess.Popen([sys.executable, "-m", "shihui", "flashsale", "drain",
                                    "--follow"], env=env, cwd=ROOT)  # fmt: skip
        # As `shihui up` runs it: the drainer above is the only one (`shihui worker` alone would
        # run a second one beside RQ, and the two would split every batch).
        worker = subprocess.Popen([sys.executable, "-m", "shihui", "worker", "--no-drainer"],
                                  env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        others = {
            "drainer": lambda: cpu_seconds([drainer.pid], children=True),
            "worker": lambda: cpu_seconds(process_tree(worker.pid), children=True),
        }
        # The stock server too: a claim's script does more than the reference app's.
        others["redis"] = lambda: cpu_seconds([server.process.pid])
        if label == "postgresql":
            others["db"] = PgBackends(args.pg_url)
        rclient = redis.Redis.from_url(server.url)
        rclient.set("ref:{1}:stock", 10**9)
        naive_ok = label == "postgresql" and naive_available(args.naive_url)
        naive_env = dict(
            env, BENCH_DATABASE_URL=args.naive_url.replace("postgresql://", "postgresql+psycopg://")
        )
        flask_env = dict(env, FASTLANE="0")
        phases = {
            "ref": ("bench.ref_app:app", env, "/claim/1", "claims.lua", ["x", "member-header"]),
            "claim": ("shihui.wsgi:app", env, claim_path, "claims.lua", [tokens]),
            # the endpoint alone: the drainer is paused (SIGSTOP) and catches up afterwards
            "claim-nodrain": ("shihui.wsgi:app", env, claim_path, "claims.lua", [tokens]),
            "soldout": ("shihui.wsgi:app", env, soldout_path, "claims.lua", [tokens]),
            "bare": ("shihui.wsgi:app", env, "/healthz", "get.lua", []),
            # the same two routes through Flask's request machinery (the fast lane off): the
            # "before" of marketplace/fastlane.py in the same run
            "claim-flask": ("shihui.wsgi:app", flask_env, claim_path, "claims.lua", [tokens]),
            "soldout-flask": ("shihui.wsgi:app", flask_env, soldout_path, "claims.lua", [tokens]),
        }
        if naive_ok:
            phases["naive"] = ("bench.naive_sql_app:app", naive_env, "/claim/1", "claims.lua",
                               ["x", "member-header"])  # fmt: skip
        if args.phases:
            phases = {k: v for k, v in phases.items() if k in args.phases}
        variants = [] if not args.variants else [
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
                    result = run_phase(app, penv, path, script, wargs, args, others=others)
                finally:
                    drainer.send_signal(signal.SIGCONT)
                results.setdefault(name, []).append(result)
                print(f"{label} round {rnd + 1} {name}: {summary(result)}", flush=True)
            for klass, workers, threads in variants:
                name = f"claim-{klass}-{workers}"
                result = run_phase("shihui.wsgi:app", env, claim_path, "claims.lua", [tokens],
                                   args, klass=klass, workers=workers, threads=threads,
                                   others=others)  # fmt: skip
                results.setdefault(name, []).append(result)
                print(f"{label} round {rnd + 1} {name}: {summary(result)}", flush=True)
        drain = measure_drain(sale)
        print(f"{label} persistence: {drain}", flush=True)
        return results, drain
    finally:
        for proc in (drainer, worker):
            if proc:
                proc.terminate()
                proc.wait(20)
        server.stop()


def run_phase(app, env, path, script, wargs, args, klass="gthread", workers=2, threads=None,
              others=None):  # fmt: skip
    with Server(app, env, klass, workers, threads or args.threads) as srv:
        wrk(srv.url(path), script, wargs, 2, args.connections)  # warm-up
        profile = Path(tempfile.mkdtemp(prefix="shihui-spy-")) / "web" if args.profile else None
        return measured_wrk(srv, path, script, wargs, args.duration, args.connections, others,
                            profile)  # fmt: skip


def summary(r: dict) -> str:
    cpu = ", ".join(f"{k[:-7]} {r[k]:.3f}" for k in r if k.endswith("_cpu_ms"))
    return (f"{r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"CPU ms/req: {cpu}; statuses {r['statuses']}, errors {r['errors']}, connections "
            f"per worker {'/'.join(map(str, r.get('connections_per_worker', [])))}")  # fmt: skip


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
            name = url.rsplit("/", 1)[1]
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists.first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
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


TARGETS = {  # issue #13: ratio name -> (minimum or maximum, bound)
    "claim / ref (req/s)": (">=", 0.75),
    "claim web CPU / ref web CPU": ("<=", 1.5),
    "claim p99 ms": ("<=", 50.0),
    "soldout / bare (req/s)": (">=", 0.90),
}
CPU_COLUMNS = ("web", "drainer", "worker", "db", "redis")


def profile_medians(by_phase: dict) -> dict:
    """Per phase, per part: the median over rounds of the profiled µs per request."""
    out = {}
    for name, rs in by_phase.items():
        profiled = [r["profile_us"] for r in rs if r.get("profile_us")]
        if profiled:
            parts = {p for r in profiled for p in r}
            out[name] = {p: statistics.median(r.get(p, 0.0) for r in profiled) for p in parts}
    return out


def print_profiles(profiles: dict, med: dict) -> None:
    phases = list(profiles)

    def order(part):
        return part.startswith("total"), -max(pr.get(part, 0.0) for pr in profiles.values())

    parts = sorted({p for prof in profiles.values() for p in prof}, key=order)
    print("\nweb workers' Python time per request, µs (py-spy --gil, medians over rounds)")
    print(f"{'part':<64}" + "".join(f"{n:>14}" for n in phases))
    for part in parts:
        print(f"{part[:63]:<64}" + "".join(f"{profiles[n].get(part, 0.0):>14.1f}" for n in phases))
    web = "".join(f"{med[n]['web_cpu_ms'] * 1000:>14.1f}" for n in phases)
    print(f"{'web CPU per request from /proc (Python + kernel)':<64}" + web)


def report(results: dict, persistence: dict, args) -> None:
    medians, ratios = {}, {}
    for label, by_phase in results.items():
        med = medians[label] = {
            name: {k: statistics.median(r[k] for r in rs) for k in rs[0]
                   if k in ("rps", "p50_ms", "p99_ms") or k.endswith("_cpu_ms")}
            for name, rs in by_phase.items()
        }  # fmt: skip
        print(f"\n{label}: medians of {args.rounds} rounds, {args.connections} connections; "
              "CPU = milliseconds per request")  # fmt: skip
        print(f"{'phase':<16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
              + " ".join(f"{c + ' CPU':>11}" for c in CPU_COLUMNS))  # fmt: skip
        for name, m in med.items():
            cpu = " ".join(
                f"{m[c + '_cpu_ms']:>11.3f}" if c + "_cpu_ms" in m else f"{'-':>11}"
                for c in CPU_COLUMNS
            )
            print(f"{name:<16} {m['rps']:>8,.0f} {m['p50_ms']:>7.1f} {m['p99_ms']:>7.1f} {cpu}")
        r = ratios[label] = {}
        pairs = [  # (ratio, numerator phase, denominator phase, figure)
            ("claim / ref (req/s)", "claim", "ref", "rps"),
            ("claim (drainer paused) / ref (req/s)", "claim-nodrain", "ref", "rps"),
            ("claim web CPU / ref web CPU", "claim", "ref", "web_cpu_ms"),
            ("claim / naive SQL (req/s)", "claim", "naive", "rps"),
            ("soldout / bare (req/s)", "soldout", "bare", "rps"),
        ]
        for name, top, bottom, figure in pairs:
            if top in med and bottom in med:  # --phases may leave either out
                r[name] = med[top][figure] / med[bottom][figure]
        if "claim" in med and "ref" in med:  # every process on the two cores, wrk aside

            def total(m):
                return sum(m.get(c + "_cpu_ms", 0.0) for c in CPU_COLUMNS)

            r["claim CPU, all processes / ref's"] = total(med["claim"]) / total(med["ref"])
        if "claim" in med:
            r["claim p99 ms"] = med["claim"]["p99_ms"]
        print()
        for name, value in r.items():
            mark = ""
            if name in TARGETS:
                op, bound = TARGETS[name]
                met = value >= bound if op == ">=" else value <= bound
                mark = f"  target {op} {bound}: {'met' if met else 'MISSED'}"
            print(f"{name:<38} {value:>7.2f}{mark}")
        print(f"persistence while claiming: {persistence[label]}")
        profiles = profile_medians(by_phase)
        if profiles:
            medians[label]["profile_us"] = profiles
            print_profiles(profiles, med)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"http-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"medians": medians, "ratios": ratios, "persistence": persistence,
                                "rounds": results, "args": vars(args),
                                "loadavg": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"results: {path}")


if __name__ == "__main__":
    sys.exit(main())
