"""`shihui up` keeps the platform running: a SIGKILLed child (worker, drainer, scheduler, the
gunicorn master, the bundled Valkey) comes back with a new pid while the supervisor and the
other children keep serving; only SIGINT stops it all (issue #11). The drainer surviving a
Redis restart from its AOF and a database outage is in test_outages."""

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

from inventory.server import free_port

from .test_up import alive, descendants

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

# How to recognise each supervised child among the supervisor's children.
# An RQ worker renames its process ("rq:worker:<name>: ...") when setproctitle is installed (a
# dependency of mutmut), so it is known by either title.
CHILDREN = {
    "worker": ("shihui worker", "rq:worker:"),
    "scheduler": "shihui scheduler",
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
            title = cmdline(pid)
            marks = CHILDREN[name] if isinstance(CHILDREN[name], tuple) else (CHILDREN[name],)
            if any(mark in title for mark in marks) and alive(pid):
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
                [sys.executable, "-m", "shihui", "up", "--port", str(self.port),
                 "--web-workers", "1", "--no-demo"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.seen: set[int] = set()

    def ready(self) -> bool:
        self.seen |= descendants(self.proc.pid)
        return readiness(self.base).get("status") == "ready"

    def kill(self, *names: str) -> dict[str, tuple[int, float]]:
        """SIGKILL the ``names`` children at once; each one's new pid and seconds until it ran.
        Returns once all are back and /readyz is ready again."""
        old = {name: child_pid(self.proc.pid, name) for name in names}
        assert all(old.values()), f"missing children {old}: {self.output()}"
        for pid in old.values():
            os.kill(pid, signal.SIGKILL)
        self.killed = time.monotonic()
        back: dict[str, tuple[int, float]] = {}
        deadline = self.killed + 45
        while len(back) < len(names) and time.monotonic() < deadline:
            for name in set(names) - set(back):
                pid = child_pid(self.proc.pid, name)
                if pid not in (None, old[name]):
                    back[name] = (pid, time.monotonic() - self.killed)
            time.sleep(0.05)
        assert len(back) == len(names), f"not back: {set(names) - set(back)}: {self.output()}"
        assert wait_until(self.ready, 45), f"not ready after {names}: {readiness(self.base)}"
        self.ready_after = time.monotonic() - self.killed
        assert self.proc.poll() is None, self.output()
        return back

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


def working(port: int, name: str, pid: int) -> bool:
    """Whether the child ``pid`` has started its work: RQ registration, cron registry, drainer
    heartbeat (the web: /readyz answering is the proof)."""
    app, rq = redis.Redis(port=port, db=0), redis.Redis(port=port, db=1)
    if name == "worker":
        # RQ keeps other keys under the same prefix (e.g. a worker's execution set): only the
        # worker hashes carry a pid.
        workers = (k for k in rq.scan_iter("rq:worker:*", _type="hash"))
        return any(int(rq.hget(k, "pid") or 0) == pid for k in workers)
    if name == "scheduler":
        return any(f":{pid}:" in m.decode() for m in rq.zrange("rq:cron_schedulers", 0, -1))
    if name == "drainer":
        mark = app.hgetall("shihui:heartbeat:drainer")
        return mark.get(b"pid") == str(pid).encode() and mark.get(b"state") == b"ok"
    return True


def test_up_restarts_whatever_dies_and_keeps_serving(tmp_path):
    """One platform (start-up is most of the cost): first the bundled Valkey, then the worker,
    drainer and scheduler at once, then the gunicorn master."""
    platform = Platform(tmp_path, None)
    try:
        assert wait_until(platform.ready, 90), platform.output()
        port = int((tmp_path / "instance" / "redis" / "port").read_text())
        # Valkey: back on its port from its AOF; the other children ride it out in place.
        client = redis.Redis(port=port, db=5)
        client.set("survives", "yes")
        time.sleep(1.5)  # appendfsync everysec
        names = ("web", "worker", "scheduler", "drainer")
        pids = {n: child_pid(platform.proc.pid, n) for n in names}
        ((_, back),) = platform.kill("redis").values()
        figures = {"redis": (back, back, platform.ready_after)}
        assert client.get("survives") == b"yes"

        def drainer_beats_again():
            mark = redis.Redis(port=port).hgetall("shihui:heartbeat:drainer")
            at = float(mark.get(b"at", 0))
            return at > time.time() - 1 and mark.get(b"pid") == str(pids["drainer"]).encode()

        assert wait_until(drainer_beats_again, 15)
        figures["drainer resumes"] = (0.0, time.monotonic() - platform.killed, 0.0)
        assert {n: child_pid(platform.proc.pid, n) for n in names} == pids
        assert all(f"{n} (pid " not in platform.log.read_text() for n in names)
        # Each child: a new pid that works again, /readyz ready, the supervisor still running.
        for group in (("worker", "drainer", "scheduler"), ("web",)):
            back = platform.kill(*group)
            ready = platform.ready_after
            for name, (pid, seconds) in back.items():
                assert wait_until(lambda n=name, p=pid: working(port, n, p), 30), name
                figures[name] = (seconds, time.monotonic() - platform.killed, ready)
        print("\nSIGKILL -> new pid / working again / /readyz ready (s):")
        for name, (seconds, work, ready) in figures.items():
            print(f"  {name:16s} {seconds:5.2f} / {work:5.2f} / {ready:5.2f}")
    finally:
        code = platform.stop()
    out = platform.log.read_text()
    assert code == 0, out
    for name in ("redis", "worker", "drainer", "scheduler", "web"):
        assert f"{name} (pid " in out and f"{name} restarted (pid " in out, out
    assert out.count("exited with -9 (SIGKILL)") == 5, out
    time.sleep(0.5)
    # Nothing left behind: not the killed gunicorn master's worker, not RQ's scheduler child.
    assert [pid for pid in platform.seen if alive(pid)] == []
