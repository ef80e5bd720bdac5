"""``shihui up``: start every process of the platform, watch them, stop them all on Ctrl-C.

Children run in their own sessions, so a terminal Ctrl-C reaches only this supervisor, which then
stops them in order: web first (no new claims), then the worker (it finishes its batch), then the
scheduler, then the bundled Redis (it flushes its AOF on SIGTERM). On Linux each child also gets
``PR_SET_PDEATHSIG`` so that even a SIGKILLed supervisor leaves no orphans.
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

from .config import generate_secret
from .redis_server import EmbeddedRedis
from .redis_setup import eviction_risk_at


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
        redis_server = EmbeddedRedis(instance / "redis", persistent=True).start()
        (instance / "redis" / "port").write_text(str(redis_server.port))
        env["REDIS_URL"] = redis_server.url
        click.echo(f"started bundled Valkey on {redis_server.url} (AOF in {instance / 'redis'})")

    children: list[tuple[str, subprocess.Popen]] = []
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
            [py, "-m", "marketplace", "prepare", *([] if load_demo else ["--no-demo"])], env=env
        )
        if prepare.returncode != 0:
            click.echo("migrations or demo data failed; not starting", err=True)
            return prepare.returncode
        web_env = dict(env, WEB_BIND=f"{host}:{port}")
        if web_workers:
            web_env["WEB_WORKERS"] = str(web_workers)
        gunicorn = ["-m", "gunicorn", "-c", "python:marketplace.gunicorn_conf"]
        children.append(("web", _spawn([py, *gunicorn, "marketplace.wsgi:app"], web_env)))
        children.append(("worker", _spawn([py, "-m", "marketplace", "worker"], env)))
        children.append(("scheduler", _spawn([py, "-m", "marketplace", "scheduler"], env)))
        for extra in _extra_processes():
            children.append((extra[0], _spawn([py, "-m", *extra[1]], env)))
        _print_banner(host, port)
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    click.echo(
                        f"{name} exited with {proc.returncode}; stopping the platform", err=True
                    )
                    stopping = True
                    break
            time.sleep(0.3)
        click.echo("stopping ...")
        return 0 if all(p.poll() in (None, 0) for _, p in children) else 1
    finally:
        for name, proc in children:
            _stop(proc, name)
        if redis_server is not None:
            redis_server.stop()
            (instance / "redis" / "port").unlink(missing_ok=True)
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        click.echo("stopped")


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
