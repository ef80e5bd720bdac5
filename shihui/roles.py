"""The node roles of a scaled-out deployment: ``shihui web``, ``shihui worker``, ``shihui
scheduler`` (``shihui up`` runs all of them on one box). Each role reads the same settings
(``DATABASE_URL``, ``REDIS_URL``, ``RQ_REDIS_URL``, ...) and may run on as many hosts as needed:

- web: stateless; nginx spreads requests over the nodes (deploy/nginx/shihui.conf);
- worker: an RQ worker plus the outbox drainer; drainers share each sale's outbox through one
  consumer group, so an entry is delivered to one of them, and entries left pending by a dead
  drainer are taken over (XAUTOCLAIM) after ``FLASHSALE_RECOVER_IDLE_MS``;
- scheduler: any number; a lease in the RQ Redis lets one of them enqueue (``scheduling.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

GUNICORN = ["-m", "gunicorn", "-c", "python:shihui.gunicorn_conf", "shihui.wsgi:app"]


def exec_web(bind: str | None, workers: int | None) -> None:
    """Replace this process with gunicorn (signals and exit codes are then gunicorn's own, which
    is what systemd and the rehearsal expect of a web node)."""
    if not os.environ.get("REDIS_URL"):
        raise click.ClickException(
            "shihui web needs REDIS_URL (the bundled server belongs to `shihui up`)"
        )
    if bind:
        os.environ["WEB_BIND"] = bind
    if workers:
        os.environ["WEB_WORKERS"] = str(workers)
    metrics = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics:
        os.makedirs(metrics, exist_ok=True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *GUNICORN])  # noqa: S606


def drainer_beside(name: str) -> Callable[[Callable[[], bool]], None]:
    """The outbox drainer as the worker node runs it, beside RQ (``shihui.worker.run_worker``)."""

    def drain(stop: Callable[[], bool]) -> None:
        from flashsale.jobs import follow

        follow(stop=stop, name=name)

    return drain
