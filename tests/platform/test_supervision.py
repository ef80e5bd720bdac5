"""`shihui up` keeps the platform running: a SIGKILLed child (worker, drainer, scheduler, the
gunicorn master, the bundled Valkey) comes back with a new pid while the supervisor and the
other children keep serving; only SIGINT stops it all (issue #11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from marketplace.redis_server import EmbeddedRedis, free_port

from .test_up import alive, descendants

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

# How to recognise each supervised child among the supervisor's children.
CHILDREN = {
    "worker": "marketplace worker",
    "scheduler": "marketplace scheduler",
    "drainer": "flashsale drain --follow",
    "web": "gunicorn",
    "redis": "valkey-server",
}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def child_pid(supervisor: int, name: str) -> int | None:
    """The live direct child of ``supervisor`` that is ``name``."""
    for task in Path(f"/proc/{supervisor}/task").glob("*"):
        try:
            pids = map(int, (task / "children").read_text().split())
        except OSError:
            continue
        for pid in pids:
            if CHILDREN[name] in cmdline(pid) and alive(pid):
                return pid
    return None


def readiness(base: str) -> dict:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return {}


def wait_until(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


class Platform:
    def __init__(self, tmp_path: Path, redis_url: str | None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "up.log"
        unset = {"REDIS_URL", "RQ_REDIS_URL", "DATABASE_URL", "SECRET_KEY"}
        env = {k: v for k, v in os.environ.items() if k not in unset | {"PROMETHEUS_MULTIPROC_DIR"}}
        env["SHIHUI_INSTANCE"] = str(tmp_path / "instance")
        if redis_url:
            env["REDIS_URL"] = redis_url
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "marketplace", "up", "--port", str(self.port),
                 "--web-workers", "1", "--no-demo"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.seen: set[int] = set()

    def ready(self) -> bool:
        self.seen |= descendants(self.proc.pid)
        return readiness(self.base).get("status") == "ready"

    def kill_and_wait(self, name: str) -> tuple[int, float, float]:
        """SIGKILL ``name``; its new pid, seconds until that runs and until /readyz is ready."""
        old = child_pid(self.proc.pid, name)
        assert old, f"no {name} child: {self.output()}"
        os.kill(old, signal.SIGKILL)
        self.killed = killed = time.monotonic()
        new = wait_until(lambda: (p := child_pid(self.proc.pid, name)) not in (None, old) and p, 30)
        assert new, f"{name} did not come back: {self.output()}"
        back = time.monotonic() - killed
        assert wait_until(self.ready, 45), f"not ready after {name}: {readiness(self.base)}"
        assert self.proc.poll() is None, self.output()
        return new, back, time.monotonic() - killed

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.seen |= descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text()[-4000:]


def working(server: EmbeddedRedis, name: str, pid: int) -> bool:
    """Whether the child ``pid`` has started its work: RQ registration, cron registry, drainer
    heartbeat, HTTP answers."""
    app, rq = redis.Redis(port=server.port, db=0), redis.Redis(port=server.port, db=1)
    if name == "worker":
        return any(int(rq.hget(k, "pid") or 0) == pid for k in rq.scan_iter("rq:worker:*"))
    if name == "scheduler":
        return any(f":{pid}:" in m.decode() for m in rq.zrange("rq:cron_schedulers", 0, -1))
    if name == "drainer":
        mark = app.hgetall("shihui:heartbeat:drainer")
        return mark.get(b"pid") == str(pid).encode() and mark.get(b"state") == b"ok"
    return True  # web: /readyz answering is the proof


def test_up_restarts_each_killed_child_and_keeps_serving(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        platform = Platform(tmp_path, server.url)
        try:
            assert wait_until(platform.ready, 90), platform.output()
            figures = {}
            for name in ("worker", "drainer", "scheduler", "web"):
                pid, back, ready = platform.kill_and_wait(name)
                assert wait_until(lambda n=name, p=pid: working(server, n, p), 30), name
                figures[name] = (back, time.monotonic() - platform.killed, ready)
            print("\nSIGKILL -> new pid / working again / /readyz ready (s):")
            for name, (back, work, ready) in figures.items():
                print(f"  {name:10s} {back:5.2f} / {work:5.2f} / {ready:5.2f}")
        finally:
            code = platform.stop()
    out = platform.log.read_text()
    assert code == 0, out
    for name in ("worker", "drainer", "scheduler", "web"):
        assert f"{name} (pid " in out and "exited with -9 (SIGKILL)" in out, out
        assert f"{name} restarted (pid " in out, out
    time.sleep(0.5)
    # Nothing left behind: not the killed gunicorn master's worker, not RQ's scheduler child.
    assert [pid for pid in platform.seen if alive(pid)] == []


def test_up_restarts_its_bundled_valkey_from_the_aof(tmp_path):
    """The other children ride the outage out in place: same pids, the drainer resumes."""
    platform = Platform(tmp_path, None)
    try:
        assert wait_until(platform.ready, 90), platform.output()
        port = int((tmp_path / "instance" / "redis" / "port").read_text())
        client = redis.Redis(port=port, db=5)
        client.set("survives", "yes")
        time.sleep(1.5)  # appendfsync everysec
        others = {n: child_pid(platform.proc.pid, n) for n in ("web", "worker", "scheduler")}
        drainer = child_pid(platform.proc.pid, "drainer")
        _, back, ready = platform.kill_and_wait("redis")
        assert client.get("survives") == b"yes"  # same port, same AOF

        def drainer_beats_again():
            mark = redis.Redis(port=port).hgetall("shihui:heartbeat:drainer")
            at = float(mark.get(b"at", 0))
            return at > time.time() - 1 and mark.get(b"pid") == str(drainer).encode()

        assert wait_until(drainer_beats_again, 15)
        resumed = time.monotonic() - platform.killed
        print(f"\nValkey SIGKILL -> new pid {back:.2f} s, /readyz ready {ready:.2f} s, "
              f"drainer (same pid) beating again {resumed:.2f} s")  # fmt: skip
        assert {n: child_pid(platform.proc.pid, n) for n in others} == others
    finally:
        code = platform.stop()
    out = platform.log.read_text()
    assert code == 0, out
    assert "redis (pid " in out and "redis restarted (pid " in out, out
    for name in ("web", "worker", "scheduler", "drainer"):
        assert f"{name} (pid " not in out, out  # none of them died
    time.sleep(0.5)
    assert [pid for pid in platform.seen if alive(pid)] == []
