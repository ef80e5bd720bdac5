"""Periodic jobs the ``shihui scheduler`` process enqueues on RQ (RQ's own cron scheduler).

Each entry is (dotted function path, interval in seconds, queue). Feature packages add their own
entries here; the functions must be idempotent because a late or repeated run is normal.
"""

from __future__ import annotations

import importlib
import logging

from marketplace.resilience import REDIS_DOWN, Outage, sleep_unless

log = logging.getLogger(__name__)

PERIODIC_JOBS: list[tuple[str, int, str]] = [
    ("marketplace.jobs.heartbeat", 30, "default"),
    # Rewrites the token revocation feed from SQL if Redis lost it (web processes fall back to
    # per-request version checks meanwhile).
    ("marketplace.auth.revocations.ensure", 30, "high"),
    # Backs up the drainer process: claims reach SQL even if only the worker runs.
    ("flashsale.jobs.drain_outbox", 2, "high"),
    ("flashsale.jobs.audit_due", 60, "low"),
    # Deletes the Redis pools of audited, persisted sales (Redis memory stays bounded).
    ("flashsale.jobs.retire_due", 300, "low"),
    # Union quotas: no-show bans, and quota holds a crash left between quota and stock.
    ("flashsale.jobs.sweep_no_shows", 600, "low"),
    ("flashsale.jobs.reconcile_quota_holds", 300, "low"),
    # Decides group-buys and teams whose own enqueue_at job was lost or late.
    ("catalogue.jobs.sweep", 30, "default"),
    # Group-buys keep their record in SQL and read no outbox: their streams are emptied.
    ("catalogue.jobs.trim_outboxes", 300, "low"),
    # Course seats and appointment slots: unconfirmed holds expire, their seats return.
    ("unionservices.jobs.sweep_holds", 30, "default"),
    # Tells members of vouchers that expire within 3 days (once each: the notices carry a key).
    ("messaging.jobs.expiring_vouchers", 3600, "low"),
]

# (name, argv after ``python -m``) of extra long-running processes ``shihui up`` starts.
EXTRA_PROCESSES: list[tuple[str, list[str]]] = [
    # Low-latency outbox drain: a claim is a voucher row well within 2 s.
    ("drainer", ["shihui", "flashsale", "drain", "--follow"]),
    # Server-Sent Events for open pages (messaging/realtime_server.py; gevent, one process).
    ("realtime", ["messaging.realtime_server"]),
]


def run_cron(connection) -> None:
    """Run RQ's CronScheduler over :data:`PERIODIC_JOBS` until SIGTERM/SIGINT, through outages.

    ``CronScheduler.start`` ends with the first Redis error (and its own clean-up raises again),
    so it runs in a loop: the same scheduler object keeps each job's next run time, waits with a
    capped backoff and starts again. A stop signal is remembered, so an error raised while
    stopping cannot turn into another round.
    """
    from rq.cron import CronScheduler  # here: the supervisor imports this module, not RQ
    from rq.exceptions import StopRequested

    stopping: list[int] = []

    class Cron(CronScheduler):
        def _request_stop(self, signum, frame):
            stopping.append(signum)
            super()._request_stop(signum, frame)

        def register_birth(self) -> None:
            super().register_birth()
            outage.recovered()

    outage = Outage("scheduler", log, first=0.5, cap=2.0)
    cron = Cron(connection=connection, logging_level="INFO")
    for dotted, interval, queue in PERIODIC_JOBS:
        module, _, name = dotted.rpartition(".")
        func = getattr(importlib.import_module(module), name)
        cron.register(func, queue_name=queue, interval=interval, result_ttl=60, job_timeout=300)
    while not stopping:
        try:
            cron.start()  # returns after a stop signal
        except REDIS_DOWN as exc:
            if stopping:
                return
            delay = outage.failed(exc)
        except StopRequested:  # a signal between rounds, raised by the handler start() left
            return
        else:
            return
        try:
            if sleep_unless(delay, lambda: bool(stopping)):
                return
        except StopRequested:
            return
