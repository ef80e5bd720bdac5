"""A whole platform the fault tests may break: its own Redis (AOF everysec) and ``shihui up``.

The Redis server is started here, not by the supervisor, so a test can shut it down, kill -9 it
and start it again on the same port, from its own files or from an older copy of them.
Everything started is stopped in :meth:`FaultStack.close`, by process id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis
from sqlalchemy import create_engine, make_url, text

from inventory.server import EmbeddedRedis, free_port

SECRET = "fault-suite-secret-key-long-enough-for-every-check-0123456789"


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        for child in children(stack.pop()):
            if child not in found:
                found.append(child)
                stack.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


class FaultStack:
    """Redis + database + ``python -m shihui up`` under ``workdir``."""

    def __init__(self, workdir: Path, database_url: str | None):
        self.workdir = workdir
        self.redis_dir = workdir / "redis"
        self.instance = workdir / "instance"
        self.instance.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{workdir / 'faults.db'}"
        self.redis = EmbeddedRedis(self.redis_dir, persistent=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.platform: subprocess.Popen | None = None
        self.log_path = workdir / "platform.log"
        self.seen: set[int] = set()  # every descendant of `up` ever observed, for teardown
        self._db_blocked = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgres")

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PROMETHEUS"))}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SECRET_KEY=SECRET,
            ID_HASH_KEY=SECRET,
            SHIHUI_INSTANCE=str(self.instance),
            LOG_LEVEL="WARNING",
        )
        env.pop("RQ_REDIS_URL", None)
        return env

    def start(self, web_workers: int = 2, timeout: float = 120.0) -> FaultStack:
        if self.postgres:
            self._reset_postgres()
        self.redis.start()
        log = self.log_path.open("w")
        args = [sys.executable, "-m", "shihui", "up", "--port", str(self.port),
                "--no-demo", "--web-workers", str(web_workers)]  # fmt: skip
        self.platform = subprocess.Popen(args, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._remember()
            if self.platform.poll() is not None:
                raise RuntimeError(f"shihui up exited at start:\n{self.log_tail()}")
            if http_status(self.base + "/readyz") == 200 and self.find("worker", "drainer"):
                return self
            time.sleep(0.3)
        raise RuntimeError(f"platform not ready in {timeout:.0f} s:\n{self.log_tail()}")

    def close(self) -> list[int]:
        """Stop everything; returns the processes that outlived the supervisor (then killed)."""
        self.unblock_database()
        orphans = []
        if self.platform is not None:
            self._remember()
            if self.platform.poll() is None:
                self.platform.send_signal(signal.SIGINT)
                try:
                    self.platform.wait(60)
                except subprocess.TimeoutExpired:
                    self.platform.kill()
                    self.platform.wait()
            time.sleep(0.5)
            for pid in self.seen:
                if alive(pid) and str(self.instance) in _environ(pid):
                    orphans.append(pid)
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
        self.redis.stop()
        return orphans

    def platform_running(self) -> bool:
        return self.platform is not None and self.platform.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    # ------------------------------------------------------------------ processes

    def _remember(self) -> None:
        if self.platform is not None:
            self.seen.update(descendants(self.platform.pid))

    def find(self, *names: str) -> dict[str, int]:
        """Direct children of the supervisor by role: web, worker, scheduler, drainer."""
        found = {}
        if self.platform is None:
            return found
        self._remember()
        for pid in children(self.platform.pid):
            line = cmdline(pid)
            role = ("web" if "gunicorn" in line else "drainer" if " drain" in line
                    else "worker" if " worker" in line else "scheduler" if " scheduler" in line
                    else None)  # fmt: skip
            if role in names and alive(pid):
                found[role] = pid
        return found

    def kill(self, *names: str) -> dict[str, int]:
        victims = self.find(*names)
        for pid in victims.values():
            os.kill(pid, signal.SIGKILL)
        return victims

    def kill_web_worker(self) -> int:
        master = self.find("web")["web"]
        worker = children(master)[0]
        os.kill(worker, signal.SIGKILL)
        return worker

    # ------------------------------------------------------------------ Redis faults

    def redis_shutdown(self) -> None:
        """``SHUTDOWN``: the server fsyncs its AOF and exits cleanly."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.redis.port, socket_timeout=10).shutdown()
        self.redis.process.wait(15)

    def redis_kill(self) -> None:
        self.redis.process.kill()
        self.redis.process.wait(15)

    def redis_snapshot(self) -> Path:
        """Copy the data directory while the server runs, as a lagging disk or replica would."""
        snap = self.workdir / f"redis-copy-{time.monotonic_ns()}"
        shutil.copytree(self.redis_dir, snap, ignore=shutil.ignore_patterns("server.log"))
        return snap

    def redis_restart(self, from_copy: Path | None = None) -> None:
        if from_copy is not None:
            for entry in self.redis_dir.iterdir():
                if entry.name != "server.log":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            shutil.copytree(from_copy, self.redis_dir, dirs_exist_ok=True)
        self.redis = EmbeddedRedis(self.redis_dir, port=self.redis.port, persistent=True)
        self.redis.start(timeout=30)

    # ------------------------------------------------------------------ database faults

    def _admin_engine(self):
        url = make_url(self.database_url).set(drivername="postgresql+psycopg", database="postgres")
        return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=None)

    @property
    def database_name(self) -> str:
        return make_url(self.database_url).database

    def block_database(self) -> None:
        """Refuse new connections and cut the open ones (PostgreSQL)."""
        name = self.database_name
        engine = self._admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            self._db_blocked = True
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            )  # fmt: skip
        engine.dispose()

    def unblock_database(self) -> None:
        if not self._db_blocked:
            return
        engine = self._admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.database_name}" ALLOW_CONNECTIONS true'))
        engine.dispose()
        self._db_blocked = False

    def _reset_postgres(self) -> None:
        engine = create_engine(_psycopg(self.database_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()


def _psycopg(url: str) -> str:
    from marketplace.config import normalise_database_url

    return normalise_database_url(url)


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""
