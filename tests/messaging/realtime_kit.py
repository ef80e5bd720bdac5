"""The real-time process in a subprocess, and a small Server-Sent Events reader for tests."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from inventory.server import free_port
from tests.conftest import server_env


@contextlib.contextmanager
def realtime_server(app_config):
    """``python -m messaging.realtime_server`` on a free port; yields its base URL."""
    port = free_port()
    env = server_env(app_config)
    env["REALTIME_BIND"] = f"127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "messaging.realtime_server"], env=env)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError, ValueError):
            if health(base)["subscribed"]:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the real-time process did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def health(base: str) -> dict:
    with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:  # noqa: S310
        return json.load(resp)


class Stream:
    """An open ``/events`` connection; ``events()`` returns what arrived as (name, data)."""

    def __init__(self, url: str):
        self.resp = urllib.request.urlopen(url, timeout=30)  # noqa: S310
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        name = "message"
        with contextlib.suppress(OSError, ValueError, AttributeError):  # AttributeError: closed
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.queue.put((name, json.loads(line[6:]), time.monotonic()))
                    name = "message"

    def next(self, timeout: float = 2.0):
        """The next (event name, data, arrival time); raises queue.Empty after ``timeout``."""
        return self.queue.get(timeout=timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.resp.close()
