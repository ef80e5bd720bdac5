"""`shihui up` brings the whole platform up on a machine with no Redis and no settings, and
Ctrl-C stops every process it started."""

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

from inventory.server import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_up_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    unset = {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["SHIHUI_INSTANCE"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shihui", "up", "--port", str(port), "--web-workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = get(base + "/readyz")
                if status == 200 and json.loads(body)["status"] == "ready":
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status == 200, f"readyz never answered 200 (last {status})"
        checks = json.loads(body)["checks"]
        assert checks == {"database": "ok", "redis": "ok", "drainer": "ok"}
        assert (tmp_path / "instance" / "shihui.db").exists()
        assert (tmp_path / "instance" / "redis" / "appendonlydir").exists()
        status, _ = get(base + "/api/v1/openapi.json")
        assert status == 200
        children = descendants(proc.pid)
        assert len(children) >= 5  # redis, gunicorn master + worker, rq worker, scheduler, drainer
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    assert "Shihui is up" in output and "/api/docs" in output
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
