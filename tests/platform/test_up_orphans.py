"""A SIGKILLed `shihui up` leaves no orphans: every process it started (bundled Valkey,
gunicorn master and workers, RQ worker, scheduler, drainer) goes with it (PR_SET_PDEATHSIG)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from inventory.server import free_port

from .test_up import alive, descendants, get

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_killed_supervisor_leaves_no_orphans(tmp_path):
    port = free_port()
    unset = {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["SHIHUI_INSTANCE"] = str(tmp_path / "instance")
    log = (tmp_path / "up.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shihui", "up", "--port", str(port), "--web-workers", "2",
         "--no-demo"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, _ = get(f"http://127.0.0.1:{port}/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status == 200, (tmp_path / "up.log").read_text()[-3000:]
        time.sleep(1)  # let gunicorn's workers and RQ's scheduler child appear
        children = descendants(proc.pid)
        # redis, gunicorn master + 2 workers, rq worker, scheduler (plus feature processes)
        assert len(children) >= 5, children
        proc.send_signal(signal.SIGKILL)  # no handler, no finally: only the kernel can help
        proc.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in children):
            time.sleep(0.2)
        orphans = {pid: _cmdline(pid) for pid in children if alive(pid)}
        assert orphans == {}, orphans
    finally:
        for pid in children:  # never leave them behind for the next test
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"
