"""Each gunicorn worker listens on its own socket (SO_REUSEPORT), so the kernel spreads
connections evenly over the workers (issue #13: a load balancer's keep-alive pool, like wrk's 64
connections, stays with the worker that accepted it for thousands of requests; with one shared
socket the workers raced for ``accept()`` and splits of 10/54 and 64/0 were measured). And a
taken address still stops the server, as it did before SO_REUSEPORT could let two share it."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import gunicorn_server, server_env

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from http_bench import established_by_process  # noqa: E402 - bench/ is not a package

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or not Path("/proc/net/tcp").exists(),
    reason="SO_REUSEPORT and /proc are Linux's",
)


def test_keep_alive_connections_spread_over_the_workers(app, app_config):
    with gunicorn_server(app_config, workers=2) as base:
        port = urlsplit(base).port
        conns = []
        try:
            for _ in range(64):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 200 and not resp.will_close  # kept alive
                conns.append(conn)
            owners = established_by_process(port)
        finally:
            for conn in conns:
                conn.close()
    assert sum(owners.values()) == 64, owners
    assert len(owners) == 2, owners  # both workers hold some
    # The kernel hashes each connection to one of the two sockets: Binomial(64, 1/2) falls
    # below 16 with probability 6e-5. The shared socket's accept race gave 64/0 and 10/54.
    assert min(owners.values()) >= 16, owners


def test_a_taken_address_stops_the_server_instead_of_sharing_it(app_config):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        # The worst case: another server that itself set SO_REUSEPORT (an older instance of
        # this one), with which the workers' sockets could otherwise silently share the port.
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = server_env(app_config)
        env.update(WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS="2")
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:shihui.gunicorn_conf",
             "shihui.wsgi:app"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("gunicorn started on an address another server listens on")
    assert proc.returncode != 0
    assert b"already in use" in err
