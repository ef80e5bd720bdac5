"""``shihui worker``: an RQ worker that outlives Redis outages.

RQ's own loop retries a lost connection only while waiting for a job; anywhere else (registering,
finishing a job, its heartbeat) the error ends :meth:`Worker.work`, and its ``with_scheduler``
child (the ``enqueue_at`` scheduler) dies with it. So the command runs ``work()`` in a loop: when
it ends without a stop request, a fresh worker (new name, new scheduler child) starts after a
capped backoff. Doing it in-process resumes within 2 s of Redis coming back instead of a process
restart (~2 s of imports) behind the supervisor's own backoff; the supervisor's restart stays as
the backstop for anything that kills the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

import redis.exceptions
from flask import Flask
from rq import Queue, SimpleWorker

from marketplace.extensions import get_rq_redis
from marketplace.gcfreeze import freeze_startup_objects
from marketplace.resilience import REDIS_DOWN, Outage, sleep_unless
from shihui.scheduling import quiet_routine_jobs

log = logging.getLogger(__name__)


def run_worker(
    app: Flask,
    queue_names: list[str],
    burst: bool = False,
    beside: Callable[[Callable[[], bool]], None] | None = None,
) -> None:
    """Work the queues until SIGTERM/SIGINT (or, with ``burst``, until they are empty).

    ``beside(stop)`` runs in a thread of this process, in an app context, until ``stop()`` turns
    true (the worker node's outbox drainer): one signal stops both, one kill -9 kills both.
    """
    stopping: list[int] = []
    if not burst:
        _children_die_with_this_process()
        freeze_startup_objects()  # the worker node and its drainer thread (marketplace/gcfreeze.py)
    side = _start_beside(app, beside, lambda: bool(stopping)) if beside and not burst else None
    try:
        _work(app, queue_names, burst, stopping)
    finally:
        stopping.append(0)
        if side is not None:
            side.join(timeout=15)


_REGISTERED: list[bool] = []


def _children_die_with_this_process() -> None:
    """RQ forks its scheduler from this process, and a fork inherits every open socket: the
    drainer thread's PostgreSQL connection too. A worker node killed with SIGKILL in the middle
    of a batch then left the scheduler child alive holding that connection, so the server never
    saw it close: the batch's transaction stayed open, its row locks held, and the drainers that
    took the dead node's entries over blocked on the same claim ids for good (found by
    ``test_worker_nodes_share_the_outbox_and_take_over_a_killed_one``). On Linux every child
    forked from here gets ``PR_SET_PDEATHSIG``: it is sent SIGTERM when this process dies, and
    its exit closes what it inherited."""
    if _REGISTERED or not sys.platform.startswith("linux"):
        return
    from .supervisor import _die_with_parent  # the same hook `shihui up` gives its children

    _REGISTERED.append(True)
    os.register_at_fork(after_in_child=_die_with_parent)


def _start_beside(app: Flask, beside, stop) -> threading.Thread:
    def run():
        with app.app_context():
            beside(stop)

    thread = threading.Thread(target=run, name="beside-worker", daemon=True)
    thread.start()
    return thread


def _work(app: Flask, queue_names: list[str], burst: bool, stopping: list[int]) -> None:

    class AppWorker(SimpleWorker):
        # SimpleWorker runs jobs in-process: no fork per job, so a SQLAlchemy pool is never
        # shared across a fork; jobs are idempotent, so a crash mid-job is recovered by a rerun.
        max_connection_wait_time = 2.0  # RQ's dequeue retry; its default lets 60 s pass

        def perform_job(self, job, queue, *args, **kwargs):  # RQ 2.x adds an execution arg
            with app.app_context():
                return super().perform_job(job, queue, *args, **kwargs)

        def request_stop(self, signum, frame):
            stopping.append(signum)
            super().request_stop(signum, frame)

        def bootstrap(self, *args, **kwargs):
            super().bootstrap(*args, **kwargs)
            outage.recovered()  # registered: Redis answers again

        def _install_signal_handlers(self):
            super()._install_signal_handlers()
            if stopping:  # a SIGTERM that arrived while the worker was registering
                self._stop_requested = True

    outage = Outage("worker", log, first=0.5, cap=2.0)

    def on_signal(signum, _frame):
        stopping.append(signum)

    connection = get_rq_redis()
    names = [n.strip() for n in queue_names if n.strip()]
    w = None
    while not stopping:
        # Our handlers between runs; RQ installs its own once a run has registered.
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            w = AppWorker(
                [Queue(n, connection=connection) for n in names],
                connection=connection,
                # How often RQ restarts a dead scheduler child (and how long a dead one's lock
                # lives): RQ's 10 minutes would leave enqueue_at jobs waiting that long.
                maintenance_interval=60,
            )
            quiet_routine_jobs()
            w.work(burst=burst, with_scheduler=not burst, logging_level="INFO")
        except REDIS_DOWN as exc:
            if burst:
                raise
            delay = outage.failed(exc)
            _drop_pubsub(w)
        else:
            if burst or stopping:
                return
            # RQ logged why it quit: an error it does not handle, in practice a lost connection.
            delay = outage.failed(redis.exceptions.ConnectionError("the RQ work loop quit"))
            _drop_pubsub(w)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if sleep_unless(delay, lambda: bool(stopping)):
            return


def _drop_pubsub(worker) -> None:
    """RQ's teardown stops its command listener thread only after unregistering, which fails
    while Redis is down: stop it here, or each outage would leave one more thread behind."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None and thread.is_alive():
        thread.stop()
        thread.join(timeout=1)
    with contextlib.suppress(Exception):
        worker.pubsub.close()
