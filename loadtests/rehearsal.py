r"""One-command sale rehearsal (``make loadtest``): start the stack, prepare a sale, rush it with
Locust, audit every ticket, and write an HTML report with charts plus Locust's CSVs.

    python -m loadtests.rehearsal --members 50000 --stock 5000 --users 400 --run-time 60s
    python -m loadtests.rehearsal --scenario room --members 3000 --stock 300 --users 3000 \
        --spawn-rate 500 --starts-in 20 --admission-rate 50 --run-time 60s

Everything it starts (the platform via ``shihui up``, Locust) is stopped when it ends.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from inventory.server import free_port

from .report import write_report

LOCUSTFILES = {
    "rush": Path(__file__).parent / "locustfiles" / "flash_rush.py",
    "room": Path(__file__).parent / "locustfiles" / "waiting_room.py",  # a queue-mode sale
}


def _get_json(url: str, token: str | None = None, timeout: float = 2.0):
    request = urllib.request.Request(url)  # noqa: S310 - loopback only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
        return json.loads(resp.read())


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the platform exited before it was ready")
        try:
            if _get_json(base + "/readyz").get("status") == "ready":
                return
        except (OSError, urllib.error.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("the platform did not become ready")


class StockSampler(threading.Thread):
    """Samples the sale's remaining stock through the public API every half second."""

    def __init__(self, url: str, token: str, out: Path):
        super().__init__(daemon=True)
        self.url, self.token, self.out = url, token, out
        self.stop_event = threading.Event()

    def run(self) -> None:
        with self.out.open("w") as fh:
            while not self.stop_event.is_set():
                try:
                    remaining = _get_json(self.url, self.token).get("remaining")
                    if remaining is not None:
                        fh.write(f"{time.time():.2f},{remaining}\n")
                        fh.flush()
                except (OSError, urllib.error.HTTPError, ValueError):
                    pass
                self.stop_event.wait(0.5)


class RoomSampler(StockSampler):
    """Samples the waiting room (members queued, places admitted, stock left) every half second
    through the status call, as a member who never joins (``room.csv``)."""

    def run(self) -> None:
        with self.out.open("w") as fh:
            while not self.stop_event.is_set():
                try:
                    body = _get_json(self.url, self.token)
                    fh.write(f"{time.time():.2f},{body['queued']},{body['admitted']},"
                             f"{body['remaining']}\n")  # fmt: skip
                    fh.flush()
                except (OSError, urllib.error.HTTPError, ValueError, KeyError):
                    pass
                self.stop_event.wait(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests.rehearsal",
        description=__doc__,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, width=100),
    )
    add = parser.add_argument
    add("--members", type=int, default=50_000, help="members to prepare, each with a token "
        "(default %(default)s)")  # fmt: skip
    add("--stock", type=int, default=5_000, help="tickets in the sale (default %(default)s)")
    add("--limit", type=int, default=1, help="tickets one member may win (default %(default)s)")
    add("--users", type=int, default=400, help="concurrent Locust users (default %(default)s)")
    add("--spawn-rate", type=int, default=400, help="Locust users started per second "
        "(default %(default)s)")  # fmt: skip
    add("--run-time", default="60s", help="how long Locust runs, e.g. 90s or 3m "
        "(default %(default)s)")  # fmt: skip
    add("--starts-in", type=int, default=15, help="seconds from preparing until the sale "
        "opens (default %(default)s)")  # fmt: skip
    add("--port", type=int, default=0, help="the platform's port (default: a free one)")
    add("--web-workers", type=int, default=None, help="gunicorn workers of the platform "
        "(default: shihui up's)")  # fmt: skip
    add("--out", default="loadtest-results", help="folder for the run's results; the newest is "
        "linked as current (default %(default)s)")  # fmt: skip
    add("--scenario", choices=sorted(LOCUSTFILES), default="rush",
        help="rush: first come at the opening second; room: a waiting room (default "
        "%(default)s)")  # fmt: skip
    add("--admission-rate", type=float, default=50.0, help="room: members admitted per second "
        "(default %(default)s)")  # fmt: skip
    add("--max-poll", type=float, default=30.0, help="room: members poll at least this often, "
        "in seconds (default %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)

    run_dir = Path(args.out).resolve() / datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    current = run_dir.parent / "current"
    current.unlink(missing_ok=True)
    current.symlink_to(run_dir.name)
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SHIHUI_INSTANCE=str(run_dir / "instance"))
    py = sys.executable
    up_args = [py, "-m", "shihui", "up", "--port", str(port), "--no-demo"]
    if args.web_workers:
        up_args += ["--web-workers", str(args.web_workers)]
    platform = subprocess.Popen(up_args, env=env, stdout=(run_dir / "platform.log").open("w"),
                                stderr=subprocess.STDOUT)  # fmt: skip
    sampler = None
    try:
        wait_ready(base, platform)
        print(f"platform ready at {base}; preparing {args.members} members, {args.stock} tickets")
        subprocess.run([py, "-m", "shihui", "loadtest", "prepare", "--members",
                        str(args.members), "--stock", str(args.stock), "--limit", str(args.limit),
                        "--starts-in", str(args.starts_in), "--out", str(run_dir),
                        "--mode", "queue" if args.scenario == "room" else "first_come",
                        "--admission-rate", str(args.admission_rate)],
                       env=env, check=True)  # fmt: skip
        sale = json.loads((run_dir / "sale.json").read_text())
        tokens = (run_dir / "tokens.csv").read_text().splitlines()
        first_token = tokens[1].split(",")[1]
        sale_url = f"{base}/api/v1/flashsales/{sale['campaign_id']}"
        if args.scenario == "room":
            # The last prepared member samples the room and is kept out of the rush.
            (run_dir / "tokens.csv").write_text("\n".join(tokens[:-1]) + "\n")
            sampler = RoomSampler(sale_url + "/queue/me", tokens[-1].split(",")[1],
                                  run_dir / "room.csv")  # fmt: skip
        else:
            sampler = StockSampler(sale_url, first_token, run_dir / "stock.csv")
        sampler.start()
        print(f"rushing with {args.users} users for {args.run_time}")
        extra = ["--max-poll", str(args.max_poll)] if args.scenario == "room" else []
        subprocess.run([py, "-m", "locust", "-f", str(LOCUSTFILES[args.scenario]), *extra,
                        "--headless", "--only-summary", "-u", str(args.users), "-r",
                        str(args.spawn_rate), "-t", args.run_time, "--host", base,
                        "--csv", str(run_dir / "locust"), "--csv-full-history",
                        "--data-dir", str(run_dir)], env=env)  # fmt: skip
        time.sleep(3)  # let the outbox drain the last claims
        audit_run = subprocess.run([py, "-m", "shihui", "loadtest", "audit", "--data-dir",
                                    str(run_dir), "--json"], env=env, capture_output=True,
                                   text=True)  # fmt: skip
        print(audit_run.stderr, end="")
        try:
            audit = json.loads(audit_run.stdout)
        except ValueError:
            audit = {"ok": False, "error": audit_run.stdout[-2000:]}
        audit["exit_code"] = audit_run.returncode
        settings = {k: getattr(args, k) for k in ("scenario", "members", "stock", "limit", "users",
                                                  "run_time")}  # fmt: skip
        if args.scenario == "room":
            settings["admission_rate"] = args.admission_rate
        report = write_report(run_dir, settings, audit)
        print(f"report: {report}")
        print("audit:", "PASSED" if audit_run.returncode == 0 else "FAILED")
        return audit_run.returncode
    finally:
        if sampler:
            sampler.stop_event.set()
        if platform.poll() is None:
            platform.send_signal(signal.SIGINT)
            try:
                platform.wait(60)
            except subprocess.TimeoutExpired:
                platform.kill()


if __name__ == "__main__":
    sys.exit(main())
