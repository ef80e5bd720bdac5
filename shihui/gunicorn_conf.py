"""gunicorn settings from the environment (``WEB_BIND``, ``WEB_WORKERS``, ``WEB_WORKER_CLASS``,
``WEB_THREADS``, ``WEB_TIMEOUT``, ``WEB_REUSE_PORT``). See BENCHMARKS.md for why the defaults are
what they are."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
# Threads per worker. 4, not 8: a request's Python runs under its worker's GIL, and with 8
# threads per worker on loaded cores a thread that is descheduled while holding the GIL stalls
# the other 7; at the same throughput every phase measured had a shorter tail with 4 (p99 at 64
# connections: the claim 57.9 -> 51.4 ms, the sale list 47.3 -> 29.8, a bare GET 50.1 -> 31.0;
# BENCHMARKS.md, 2026-12-01). Requests that wait on I/O (SQL, Redis) release the GIL meanwhile.
DEFAULT_THREADS = 4
threads = int(os.environ.get("WEB_THREADS", DEFAULT_THREADS))
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", 1000))
timeout = int(os.environ.get("WEB_TIMEOUT", 30))
graceful_timeout = 10
keepalive = 5
# Every worker listens on its own socket with SO_REUSEPORT (gunicorn >= 24), so the kernel hashes
# each new connection to one of them: an even spread. With one shared socket the workers race to
# accept(), and long-lived connections (nginx's keep-alive pool to this node, deploy/nginx) stay
# where they landed: splits of 10/54 and 64/0 over two workers were measured (issue #13).
# WEB_REUSE_PORT=0 goes back to the shared socket.
reuse_port = os.environ.get("WEB_REUSE_PORT", "1") != "0"

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


def on_starting(server):
    """With SO_REUSEPORT a second server could bind the same address and silently take half its
    connections (an old instance left running, say). Fail as a server without it would."""
    if reuse_port:
        for address in server.cfg.address:
            if isinstance(address, tuple):  # a unix socket path is not shared this way
                _refuse_taken(address)


def _refuse_taken(address: tuple) -> None:
    import socket

    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise RuntimeError(f"{address[0]}:{address[1]} is already in use: {exc}") from exc
