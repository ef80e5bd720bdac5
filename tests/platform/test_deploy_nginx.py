"""deploy/nginx/shihui.conf in front of two real ``shihui web`` nodes (issue #15): nginx routes
around a node killed with SIGKILL, and an X-Forwarded-For a client forges gains it no fresh
per-address budget (nginx replaces the header; the nodes trust one hop). The config file is the
one in deploy/, only its listen port and include path rewritten, so it cannot rot.

Skips without nginx (``apt-get install -y nginx``); ``SHIHUI_REQUIRE=nginx`` makes that a failure.
"""

from __future__ import annotations

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
from tests.conftest import server_env, skip_or_fail

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NGINX = "/usr/sbin/nginx"


def status(url: str, method: str = "GET", body: bytes | None = None, headers=None) -> int:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def wait_status(url: str, timeout: float = 90) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if status(url) == 200:
            return True
        time.sleep(0.2)
    return False


def render(tmp: Path, port: int, nodes: list[int]) -> Path:
    upstreams = tmp / "upstreams.conf"
    upstreams.write_text(
        "".join(f"server 127.0.0.1:{n} max_fails=2 fail_timeout=5s;\n" for n in nodes)
    )
    site = (ROOT / "deploy" / "nginx" / "shihui.conf").read_text()
    assert "listen 80;" in site and "/etc/nginx/shihui-upstreams.conf" in site
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/etc/nginx/shihui-upstreams.conf", str(upstreams))
    (tmp / "shihui.conf").write_text(site)
    temps = "".join(
        f"{kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = tmp / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\naccess_log {tmp / 'access.log'};\n{temps}include {tmp / 'shihui.conf'};\n}}\n"
    )
    return main


def test_nginx_from_deploy_routes_around_a_killed_node_and_ignores_forged_addresses(
    app, app_config, tmp_path
):
    if not os.path.exists(NGINX):
        skip_or_fail("nginx", "nginx is not installed: apt-get install -y nginx")
    env = server_env(app_config) | {"PROXY_TRUSTED_HOPS": "1", "LOGIN_IP_LIMIT": "3/minute"}
    ports = [free_port(), free_port()]
    nodes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "shihui", "web", "--bind", f"127.0.0.1:{p}", "--workers", "1"],
            env=env,
            start_new_session=True,
        )
        for p in ports
    ]
    front = free_port()
    conf = render(tmp_path, front, ports)
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])  # noqa: S603
    base = f"http://127.0.0.1:{front}"
    try:
        assert all(wait_status(f"http://127.0.0.1:{p}/healthz") for p in ports), "nodes down"
        assert wait_status(base + "/healthz", 15), (tmp_path / "error.log").read_text()

        # Forged X-Forwarded-For: nginx replaces it with the peer, so all count as one address.
        body = b'{"username": "nobody", "password": "whatever-pass"}'
        codes = [
            status(base + "/api/v1/auth/token", "POST", body,
                   {"Content-Type": "application/json", "X-Forwarded-For": f"10.1.2.{n}"})
            for n in range(4)
        ]  # fmt: skip
        assert codes == [401, 401, 401, 429], codes

        os.killpg(nodes[0].pid, signal.SIGKILL)  # the node's whole process group: its session
        nodes[0].wait()
        answers = [status(base + "/healthz") for _ in range(40)]
        assert answers.count(200) == 40, answers
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
                node.wait(20)
