"""Loopback cluster rehearsal: ``make cluster-rehearsal`` (``python -m loadtests.cluster``).

Starts real parts on this machine and tears them down: nginx (``deploy/nginx/shihui.conf``) in
front of 3 ``shihui web`` nodes, a Redis Cluster of 3 masters + 3 replicas for the stock engine
(``CLAIM_DURABILITY=replica``), a standalone server for RQ, a PostgreSQL database it creates and
drops, 2 ``shihui worker`` nodes and 1 ``shihui scheduler``. Then a Locust sale through nginx
while faults are injected: kill -9 of a web node, of a worker, of a cluster master (its replica
takes over), and a restart of every PostgreSQL connection. Then the audit (no oversell, every
201 a voucher row, engine == outbox == SQL) and report.html with the faults marked.
Ports: 7400-7499 for Redis; free ports for nginx and the web nodes.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from inventory.server import free_port

from .cluster_parts import Server, replicated_cluster
from .report import write_report

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtests" / "locustfiles" / "flash_rush.py"
NGINX = "/usr/sbin/nginx"


def _status(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while _status(url) != 200:
        if time.monotonic() > end:
            raise RuntimeError(f"{url} not ready in {timeout:.0f} s")
        time.sleep(0.3)


def nginx_conf(run_dir: Path, port: int, nodes: list[int]) -> Path:
    """deploy/nginx/shihui.conf with its listen port and upstream list rewritten, in a main
    config that keeps every file nginx writes under ``run_dir``."""
    ngx = run_dir / "nginx"
    ngx.mkdir()
    upstreams = ngx / "upstreams.conf"
    upstreams.write_text(
        "".join(f"server 127.0.0.1:{n} max_fails=2 fail_timeout=5s;\n" for n in nodes)
    )
    site = (ROOT / "deploy" / "nginx" / "shihui.conf").read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/etc/nginx/shihui-upstreams.conf", str(upstreams))
    (ngx / "shihui.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temps = "".join(f"{k}_temp_path {ngx / k};\n" for k in kinds)
    main = ngx / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {ngx / 'nginx.pid'};\nerror_log {ngx / 'error.log'};\n"
        "events { worker_connections 4096; }\n"
        f"http {{\naccess_log off;\n{temps}include {ngx / 'shihui.conf'};\n}}\n"
    )
    return main


class Parts:
    """Every process the rehearsal started, by role; each stopped by its own pid."""

    def __init__(self, run_dir: Path, env: dict):
        self.run_dir, self.env = run_dir, env
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], **env_extra: str) -> subprocess.Popen:
        log = (self.run_dir / f"{name}.log").open("w")
        proc = subprocess.Popen(  # noqa: S603
            argv, env=self.env | env_extra, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs[name] = proc
        return proc

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _pg(admin_url: str, sql: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text(sql))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("CLUSTER_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432"))  # fmt: skip
    parser.add_argument("--members", type=int, default=8000)
    parser.add_argument("--stock", type=int, default=4000)
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--run-time", type=int, default=60, help="seconds of rush")
    parser.add_argument("--starts-in", type=int, default=10)
    parser.add_argument("--faults", default="web,worker,master,pg")
    parser.add_argument("--durability", default="replica", choices=("local", "replica", "fsync"),
                        help="CLAIM_DURABILITY of the web nodes: compare the three in claims/s "
                        "and p99 with the same faults")  # fmt: skip
    parser.add_argument("--out", default="loadtest-results")
    args = parser.parse_args(argv)
    if not os.path.exists(NGINX):
        print("nginx is not installed: apt-get install -y nginx", file=sys.stderr)
        return 2
    run_dir = Path(args.out).resolve() / ("cluster-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True)
    db_name = f"wt_scale_rehearsal_{os.getpid()}"
    py = sys.executable
    faults: list[dict] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        masters, replicas = stack.enter_context(
            replicated_cluster(tmp / "cluster", aof=args.durability == "fsync")
        )
        rq = Server(tmp / "rq", aof=False)
        stack.callback(rq.stop)
        _pg(f"{args.pg}/postgres", f'CREATE DATABASE "{db_name}"')
        stack.callback(
            _pg, f"{args.pg}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'
        )
        env = dict(os.environ) | {
            "DATABASE_URL": f"{args.pg}/{db_name}",
            "REDIS_URL": f"redis+cluster://127.0.0.1:{masters[0].port}",
            "RQ_REDIS_URL": f"redis://127.0.0.1:{rq.port}/0",
            "SECRET_KEY": "cluster-rehearsal-" + os.urandom(24).hex(),
            "SHIHUI_INSTANCE": str(run_dir / "instance"),
            "PROXY_TRUSTED_HOPS": "1",
            "CLAIM_DURABILITY": args.durability,
            "FLASHSALE_RECOVER_IDLE_MS": "5000",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([py, "-m", "shihui", "prepare", "--no-demo"], env=env, check=True)
        parts = Parts(run_dir, env)
        stack.callback(parts.stop_all)
        web_ports = [free_port() for _ in range(3)]
        for i, port in enumerate(web_ports):
            parts.start(f"web{i}", [py, "-m", "shihui", "web", "--bind", f"127.0.0.1:{port}",
                                    "--workers", "1"])  # fmt: skip
        for i in range(2):
            parts.start(f"worker{i}", [py, "-m", "shihui", "worker", "--name", f"w{i}"])
        parts.start("scheduler", [py, "-m", "shihui", "scheduler"])
        front = free_port()
        parts.start("nginx", [NGINX, "-c", str(nginx_conf(run_dir, front, web_ports)),
                              "-g", "daemon off;"])  # fmt: skip
        base = f"http://127.0.0.1:{front}"
        for port in web_ports:
            _wait(f"http://127.0.0.1:{port}/healthz", 120)
        _wait(base + "/healthz", 20)
        subprocess.run([py, "-m", "shihui", "loadtest", "prepare", "--members", str(args.members),
                        "--stock", str(args.stock), "--starts-in", str(args.starts_in),
                        "--out", str(run_dir)], env=env, check=True)  # fmt: skip
        t0 = time.time()
        wanted = args.faults.split(",")
        plan = [("web", "kill -9 web node web0"), ("worker", "kill -9 worker node worker0"),
                ("master", "kill -9 a cluster master; its replica takes over"),
                ("pg", "terminate every PostgreSQL connection")]  # fmt: skip
        plan = [p for p in plan if p[0] in wanted]
        # While the sale still has stock: a fault every few seconds from just after the opening.
        spacing = min(args.run_time / (len(plan) + 1), 5.0) if plan else 0

        def inject():
            for n, (kind, what) in enumerate(plan, 1):
                time.sleep(max(0.0, t0 + args.starts_in + 1 + n * spacing - time.time()))
                at = time.time()
                if kind == "web":
                    parts.kill9("web0")
                elif kind == "worker":
                    parts.kill9("worker0")
                elif kind == "master":
                    masters[1].kill()  # not masters[0]: REDIS_URL names it as the entry node
                    replicas[1].client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
                elif kind == "pg":
                    _pg(f"{args.pg}/postgres", "SELECT pg_terminate_backend(pid) FROM "
                        f"pg_stat_activity WHERE datname = '{db_name}'")  # fmt: skip
                faults.append({"kind": kind, "what": what, "at": at})
                print(f"fault at +{at - t0:.1f} s: {what}", flush=True)

        injector = threading.Thread(target=inject, daemon=True)
        injector.start()
        locust_env = env | {"PYTHONPATH": str(ROOT)}
        subprocess.run([py, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                        "--only-summary", "-u", str(args.users), "-r", str(args.users),
                        "-t", f"{args.starts_in + args.run_time}s", "--host", base,
                        "--csv", str(run_dir / "locust"), "--csv-full-history",
                        "--data-dir", str(run_dir)], env=locust_env)  # fmt: skip
        injector.join(timeout=5)
        time.sleep(8)  # the surviving worker takes over the killed one's entries (5 s idle)
        audit_run = subprocess.run([py, "-m", "shihui", "loadtest", "audit", "--data-dir",
                                    str(run_dir), "--json"], env=env, capture_output=True,
                                   text=True)  # fmt: skip
        try:
            audit = json.loads(audit_run.stdout)
        except ValueError:
            audit = {"ok": False, "error": audit_run.stdout[-2000:] + audit_run.stderr[-2000:]}
        audit["exit_code"] = audit_run.returncode
        settings = {"members": args.members, "stock": args.stock, "users": args.users,
                    "run_time": args.run_time, "durability": args.durability, "web_nodes": 3,
                    "workers": 2, "cluster": "3 masters + 3 replicas"}  # fmt: skip
        report = write_report(run_dir, settings, audit, marks=faults)  # dots on the charts
        mark_faults(report, run_dir / "locust_stats_history.csv", faults)
        print(f"report: {report}")
        print("audit:", "PASSED" if audit_run.returncode == 0 else "FAILED")
        return audit_run.returncode
    return 1


def fault_costs(history_csv: Path, faults: list[dict]) -> list[dict]:
    """For each fault: failures in the 10 s after it, worst p99 then, and seconds until the first
    second without failures (the cost and the recovery)."""
    rows = []
    if history_csv.exists():
        with history_csv.open() as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("Name") == "Aggregated"]
    out = []
    for fault in faults:
        after = [r for r in rows if fault["at"] <= float(r["Timestamp"]) <= fault["at"] + 10]
        failing = [float(r["Failures/s"] or 0) for r in after]
        p99 = [float(r["99%"]) for r in after if r["99%"] not in ("", "N/A")]
        clean = next((float(r["Timestamp"]) - fault["at"] for r in after
                      if float(r["Failures/s"] or 0) == 0), None)  # fmt: skip
        out.append(fault | {"failures_per_s_peak": max(failing, default=0.0),
                            "p99_ms_worst": max(p99, default=None),
                            "seconds_to_no_failures": clean})  # fmt: skip
    return out


def mark_faults(report: Path, history_csv: Path, faults: list[dict]) -> None:
    """Add the faults table (when, what, cost, recovery) to the report, under its title."""
    costs = fault_costs(history_csv, faults)
    start = min((f["at"] for f in faults), default=0)
    body = "".join(
        f"<tr><td>{datetime.fromtimestamp(c['at']).strftime('%H:%M:%S')} "
        f"(+{c['at'] - start:.0f} s)</td><td>{html.escape(c['what'])}</td>"
        f"<td>{c['failures_per_s_peak']:.1f}</td><td>{c['p99_ms_worst'] or '-'}</td>"
        f"<td>{'-' if c['seconds_to_no_failures'] is None else round(c['seconds_to_no_failures'])}"
        "</td></tr>"
        for c in costs
    )
    table = ("<h2>Faults</h2><table><tr><th>when</th><th>fault</th><th>peak failures/s in the "
             "next 10 s</th><th>worst p99 ms then</th><th>seconds to no failures</th></tr>"
             f"{body}</table>")  # fmt: skip
    page = report.read_text(encoding="utf-8")
    report.write_text(page.replace("<h2>Audit</h2>", table + "<h2>Audit</h2>", 1), "utf-8")
    (report.parent / "faults.json").write_text(json.dumps(costs, indent=2))


if __name__ == "__main__":
    sys.exit(main())
