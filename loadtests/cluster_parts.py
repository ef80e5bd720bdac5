"""Redis parts from the bundled server binary on ports 7400-7499 (the range the scale-out work
owns on a shared machine): a master with a replica, a cluster of masters with one replica each.
Used by the durability tests, bench/bench_durability.py and the cluster rehearsal."""

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


CLUSTER_ARGS = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", "--databases", "1"]  # fmt: skip


class ClusterNodeServer(Server):
    def __init__(self, directory: Path, aof: bool = False):
        self.port = free_port_in_range()
        self.dir = directory / str(self.port)
        self.dir.mkdir(parents=True, exist_ok=True)
        args = [server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.dir), "--save", "", "--appendonly", "yes" if aof else "no",
                "--appendfsync", "everysec", *CLUSTER_ARGS]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)  # noqa: S603
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if self.client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"node on {self.port} did not start")
            time.sleep(0.05)

    @property
    def node_id(self) -> str:
        return self.client.execute_command("CLUSTER", "MYID").decode()


@contextlib.contextmanager
def replicated_cluster(directory: Path, masters: int = 3, aof: bool = False):
    """``masters`` masters with one replica each; yields (masters, replicas) in pairs. ``aof``:
    every node keeps an append-only file (fsynced every second), as ``fsync`` durability needs."""
    tops = [ClusterNodeServer(directory, aof) for _ in range(masters)]
    subs = [ClusterNodeServer(directory, aof) for _ in range(masters)]
    try:
        per = 16384 // masters
        for i, node in enumerate(tops):
            last = 16383 if i == masters - 1 else (i + 1) * per - 1
            node.client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        for node in tops[1:] + subs:
            node.client.execute_command("CLUSTER", "MEET", "127.0.0.1", tops[0].port)
        deadline = time.monotonic() + 30
        for top, sub in zip(tops, subs, strict=True):
            while True:
                try:
                    sub.client.execute_command("CLUSTER", "REPLICATE", top.node_id)
                    break
                except redis.ResponseError:  # the replica has not learnt of the master yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        while True:
            ok = all(b"cluster_state:ok" in n.client.execute_command("CLUSTER", "INFO")
                     for n in tops + subs)  # fmt: skip
            online = all(
                t.client.info("replication").get("slave0", {}).get("state") == "online"
                for t in tops
            )
            if ok and online:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster with replicas did not come up")
            time.sleep(0.1)
        yield tops, subs
    finally:
        for node in tops + subs:
            node.stop()
