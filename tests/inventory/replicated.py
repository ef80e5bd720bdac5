"""A master and a replica from the bundled server binary, on ports of 7400-7499 (the range this
suite's scale-out tests own on a shared machine), for durability tests and the bench."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

import redis

from inventory.server import server_binary

PORTS = range(7400, 7500)


def free_port_in_range() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 7400-7499")


class Server:
    def __init__(self, directory: Path, aof: bool = False, replica_of: int | None = None):
        self.port = free_port_in_range()
        self.dir = directory / str(self.port)
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.dir), "--save", "", "--appendonly", "yes" if aof else "no",
                "--appendfsync", "everysec"]  # fmt: skip
        if replica_of:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.port} did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.client.close()


@contextlib.contextmanager
def master_and_replica(directory: Path, aof: bool = False):
    master = Server(directory, aof=aof)
    replica = Server(directory, replica_of=master.port)
    try:
        deadline = time.monotonic() + 15
        while master.client.info("replication").get("slave0", {}).get("state") != "online":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not connect")
            time.sleep(0.05)
        yield master, replica
    finally:
        replica.stop()
        master.stop()
