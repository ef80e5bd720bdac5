"""gunicorn settings from the environment (``WEB_BIND``, ``WEB_WORKERS``, ``WEB_WORKER_CLASS``,
``WEB_THREADS``, ``WEB_TIMEOUT``). See BENCHMARKS.md for why the defaults are what they are."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
threads = int(os.environ.get("WEB_THREADS", 8))
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", 1000))
timeout = int(os.environ.get("WEB_TIMEOUT", 30))
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
# Workers are built lazily after fork: no shared Redis/SQL connections across processes.
preload_app = False


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Move everything the app built at start-up out of the garbage collector's sight
    (marketplace/gcfreeze.py: a full collection walked ~200,000 objects, ~100 ms with every
    thread of the worker stopped, which was the claim's p99 at 64 connections, issue #13)."""
    from marketplace.gcfreeze import freeze_startup_objects

    freeze_startup_objects()
