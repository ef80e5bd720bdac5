"""``shihui up``: start every process of the platform, keep them running, stop them on Ctrl-C.

A child that dies (web, worker, scheduler, drainer, the bundled Redis) is logged with its exit
code and restarted after a backoff (0.5 s doubling to 15 s; back to 0.5 s once it had run 30 s),
while its siblings keep serving: only SIGINT/SIGTERM stops the platform. The long-running loops
themselves ride out Redis and database outages (``marketplace.resilience``), so a restart here
is for a crash or a kill, not for an outage.

Children run in their own sessions, so a terminal Ctrl-C reaches only this supervisor, which then
stops them in order: web first (no new claims), then the worker (it finishes its batch), then the
scheduler and drainer, then the bundled Redis (it flushes its AOF on SIGTERM). A dead child's
session is sent SIGTERM too, for what it left behind (a killed gunicorn master's workers, RQ's
scheduler child). On Linux each child also gets ``PR_SET_PDEATHSIG`` so that even a SIGKILLed
supervisor leaves no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from inventory.server import EmbeddedRedis
from marketplace.config import generate_secret
from marketplace.redis_setup import eviction_risk_at


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: S603,PLW1509


def _stop(proc: subprocess.Popen, name: str, timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        click.echo(f"  {name} did not stop in {timeout:.0f} s; killing it")
        proc.kill()
        proc.wait()


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(generate_secret())
        path.chmod(0o600)
    return path.read_text().strip()


# A child that ran this long before dying starts over at the first delay.
RESTART_STABLE_AFTER = 30.0
RESTART_FIRST_DELAY = 0.5
RESTART_MAX_DELAY = 15.0


class Supervised:
    """A process ``shihui up`` keeps running: noticed when it dies, restarted with backoff."""

    name = "child"

    def __init__(self):
        self.started = 0.0
        self.restart_at: float | None = None
        self.delay = 0.0
        self.restarts = 0

    @property
    def process(self) -> subprocess.Popen | None:
        raise NotImplementedError

    def launch(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self.started = time.monotonic()
        self.restart_at = None
        self.launch()

    def check(self) -> None:
        """Notice a death (log it, schedule a restart) or restart when the delay is over."""
        proc, now = self.process, time.monotonic()
        if self.restart_at is None:
            if proc is None or proc.poll() is None:
                return
            self._schedule(now, f"(pid {proc.pid}) exited with {_describe(proc.returncode)}")
            _kill_group(proc.pid)  # what it left behind (gunicorn workers, RQ's scheduler)
        elif now >= self.restart_at:
            self.restarts += 1
            try:
                self.start()
            except Exception as exc:  # noqa: BLE001 - e.g. a port not free yet: try again
                self._schedule(time.monotonic(), f"did not start ({exc})")
                return
            click.echo(f"{self.name} restarted (pid {self.process.pid}, restart #{self.restarts})")

    def _schedule(self, now: float, what: str) -> None:
        ran_for = now - self.started
        if self.delay == 0 or ran_for >= RESTART_STABLE_AFTER:
            self.delay = RESTART_FIRST_DELAY
        else:
            self.delay = min(self.delay * 2, RESTART_MAX_DELAY)
        self.restart_at = now + self.delay
        click.echo(
            f"{self.name} {what} after {ran_for:.1f} s; restarting in {self.delay:.1f} s", err=True
        )


class Child(Supervised):
    def __init__(self, name: str, args: list[str], env: dict):
        super().__init__()
        self.name, self.args, self.env = name, args, env
        self.proc: subprocess.Popen | None = None

    @property
    def process(self) -> subprocess.Popen | None:
        return self.proc

    def launch(self) -> None:
        self.proc = _spawn(self.args, self.env)


class BundledRedis(Supervised):
    """The bundled Valkey: restarted on the same port and directory, so it reloads its AOF."""

    name = "redis"

    def __init__(self, server: EmbeddedRedis):
        super().__init__()
        self.server = server
        self.started = time.monotonic()

    @property
    def process(self) -> subprocess.Popen | None:
        return self.server.process

    def launch(self) -> None:
        self.server.start()


def _describe(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"{returncode} ({signal.Signals(-returncode).name})"
    return str(returncode)


def _kill_group(pgid: int) -> None:
    """SIGTERM what is left of a dead child's process group (its own session: nothing else)."""
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGTERM)


def run_platform(host: str, port: int, web_workers: int | None, load_demo: bool) -> int:
    instance = Path(os.environ.get("SHIHUI_INSTANCE", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["SHIHUI_INSTANCE"] = str(instance)
    env.setdefault("SECRET_KEY", _instance_secret(instance))
    metrics_dir = instance / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server = EmbeddedRedis(
            instance / "redis", persistent=True, die_with_parent=True
        ).start()
        (instance / "redis" / "port").write_text(str(redis_server.port))
        env["REDIS_URL"] = redis_server.url
        click.echo(f"started bundled Valkey on {redis_server.url} (AOF in {instance / 'redis'})")

    children: list[Child] = []
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    old_int = signal.signal(signal.SIGINT, request_stop)
    old_term = signal.signal(signal.SIGTERM, request_stop)
    try:
        if risk := eviction_risk_at(env["REDIS_URL"]):
            click.echo(f"refusing to start: {risk}", err=True)
            return 1
        py = sys.executable
        prepare = subprocess.run(  # noqa: S603
            [py, "-m", "shihui", "prepare", *([] if load_demo else ["--no-demo"])], env=env
        )
        if prepare.returncode != 0:
            click.echo("migrations or demo data failed; not starting", err=True)
            return prepare.returncode
        web_env = dict(env, WEB_BIND=f"{host}:{port}")
        if web_workers:
            web_env["WEB_WORKERS"] = str(web_workers)
        _realtime_settings(env, web_env, host, port)
        gunicorn = ["-m", "gunicorn", "-c", "python:shihui.gunicorn_conf"]
        children.append(Child("web", [py, *gunicorn, "shihui.wsgi:app"], web_env))
        # The drainer runs as its own child here (EXTRA_PROCESSES), so a kill of one is not a
        # kill of both; a worker node (`shihui worker`) runs both in one process.
        worker = [py, "-m", "shihui", "worker", "--no-drainer"]
        children.append(Child("worker", worker, env))
        children.append(Child("scheduler", [py, "-m", "shihui", "scheduler"], env))
        for name, argv in _extra_processes():
            children.append(Child(name, [py, "-m", *argv], env))
        for child in children:
            child.start()
        _print_banner(host, port)
        # Only a signal stops the platform: a dead child is restarted, the others keep serving.
        watched = [*([BundledRedis(redis_server)] if redis_server else []), *children]
        while not stopping:
            for child in watched:
                if not stopping:
                    child.check()
            time.sleep(0.2)
        click.echo("stopping ...")
        return 0
    finally:
        for child in children:
            if child.proc is not None:
                _stop(child.proc, child.name)
                _kill_group(child.proc.pid)
        if redis_server is not None:
            redis_server.stop()
            (instance / "redis" / "port").unlink(missing_ok=True)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        click.echo("stopped")


def _realtime_settings(env: dict, web_env: dict, host: str, port: int) -> None:
    """The real-time process listens next to the web port; pages learn its URL. An operator's
    REALTIME_URL (a proxy path, another host) is kept."""
    env.setdefault("REALTIME_BIND", f"{host}:{port + 1}")
    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
    web_env.setdefault("REALTIME_URL", f"http://{shown}:{env['REALTIME_BIND'].rpartition(':')[2]}")


def _extra_processes() -> list[tuple[str, list[str]]]:
    """Long-running processes that feature packages need besides web/worker/scheduler."""
    from .scheduling import EXTRA_PROCESSES

    return list(EXTRA_PROCESSES)


def _print_banner(host: str, port: int) -> None:
    from .demo import demo_logins

    shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
    base = f"http://{shown}:{port}"
    lines = [
        "",
        "Shihui is up:",
        f"  member site      {base}/",
        f"  merchant portal  {base}/merchant/",
        f"  admin console    {base}/admin/",
        f"  API docs         {base}/api/docs",
        f"  readiness        {base}/readyz",
    ]
    logins = demo_logins()
    if logins:
        lines.append("Demo logins:")
        lines += [f"  {line}" for line in logins]
    lines.append("Press Ctrl-C to stop everything.")
    click.echo("\n".join(lines))
