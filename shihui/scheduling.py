"""Periodic jobs the ``shihui scheduler`` process enqueues on RQ (RQ's own cron scheduler).

Each entry is (dotted function path, interval in seconds, queue). Feature packages add their own
entries here; the functions must be idempotent because a late or repeated run is normal.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket

import redis

from marketplace.resilience import REDIS_DOWN, Outage, sleep_unless

log = logging.getLogger(__name__)

# Any number of schedulers may run (one per host for availability); only the holder of this
# lease in the RQ Redis enqueues. A leader renews it on every round (at most LEADER_ROUND s
# apart); a follower tries to take it every LEADER_ROUND s, so a kill -9'd leader is replaced
# within LEASE_SECONDS + LEADER_ROUND.
LEASE_KEY = "shihui:scheduler:leader"
LEASE_SECONDS = 10
LEADER_ROUND = 1.0


class Lease:
    """A named lease on one key: taken with SET NX PX, renewed only by its holder (WATCH)."""

    def __init__(self, connection, holder: str, key: str = LEASE_KEY, seconds: int = LEASE_SECONDS):
        self.connection, self.holder, self.key = connection, holder, key
        self.ms = int(seconds * 1000)
        self.held = False

    def hold(self) -> bool:
        """Take or renew the lease; True while this holder has it."""
        was = self.held
        if self.connection.set(self.key, self.holder, nx=True, px=self.ms):
            self.held = True
        else:
            self.held = self._renew()
        if self.held != was:
            log.info("scheduler %s %s", self.holder, "leads" if self.held else "follows")
        return self.held

    def _renew(self) -> bool:
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(self.key)
                if _text(pipe.get(self.key)) != self.holder:
                    return False
                pipe.multi()
                pipe.pexpire(self.key, self.ms)
                pipe.execute()
                return True
            except redis.WatchError:  # changed between GET and EXEC: someone else holds it
                return False

    def release(self) -> None:
        """Hand over at once on a clean stop (a kill leaves the lease to expire)."""
        if self._renew():
            self.connection.delete(self.key)
        self.held = False


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


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
    # Lottery wins not confirmed in time pass to the waiting list (also stock a crash left).
    ("flashsale.jobs.lottery_hand_ons", 30, "default"),
    # Decides group-buys and teams whose own enqueue_at job was lost or late.
    ("catalogue.jobs.sweep", 30, "default"),
    # Group-buys keep their record in SQL and read no outbox: their streams are emptied.
    ("catalogue.jobs.trim_outboxes", 300, "low"),
    # Course seats and appointment slots: unconfirmed holds expire, their seats return.
    ("unionservices.jobs.sweep_holds", 30, "default"),
    # Tells members of vouchers that expire within 3 days (once each: the notices carry a key).
    ("messaging.jobs.expiring_vouchers", 3600, "low"),
]


class RoutineJobLogs(logging.Filter):
    """Keeps the periodic jobs' success lines out of the log: the drain alone runs every 2 s, and
    RQ writes five INFO lines per run (enqueued, started, completed, OK, result kept). Their
    warnings and failures still pass, as does every line of any other job. Installed on RQ's
    worker and cron loggers by :func:`quiet_routine_jobs`."""

    def __init__(self, dotted_names) -> None:
        super().__init__()
        self.dotted = tuple(f"{d}(" for d in dotted_names)
        self.short = tuple(f"Enqueued job {d.rpartition('.')[2]} " for d in dotted_names)
        self.ids: list[str] = []  # the last routine job ids seen (bounded)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if message.startswith(self.short) or any(d in message for d in self.dotted):
            start = message.rfind("(")
            if message.endswith(")") and start > 0:
                self.ids = [*self.ids[-99:], message[start + 1 : -1]]
            return False
        return not any(job_id in message for job_id in self.ids)


def quiet_routine_jobs() -> None:
    names = [dotted for dotted, _interval, _queue in PERIODIC_JOBS]
    for logger in ("rq.worker", "rq.cron"):
        target = logging.getLogger(logger)
        if not any(isinstance(f, RoutineJobLogs) for f in target.filters):
            target.addFilter(RoutineJobLogs(names))


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

    stopping: list[int] = []
    lease = Lease(connection, f"{socket.gethostname()}-{os.getpid()}")

    class Cron(CronScheduler):
        def _request_stop(self, signum, frame):
            stopping.append(signum)
            super()._request_stop(signum, frame)

        def register_birth(self) -> None:
            super().register_birth()
            outage.recovered()

        def enqueue_jobs(self):
            # A follower enqueues nothing; its jobs stay due, so it runs them as soon as it
            # leads (a late or repeated run is normal for these jobs).
            return super().enqueue_jobs() if lease.hold() else []

        def calculate_sleep_interval(self) -> float:
            # Wake at least every round: the leader renews its lease, a follower asks for it.
            if not lease.held:
                return LEADER_ROUND
            return min(super().calculate_sleep_interval(), LEADER_ROUND)

    outage = Outage("scheduler", log, first=0.5, cap=2.0)
    cron = Cron(connection=connection, logging_level="INFO")
    quiet_routine_jobs()
    for dotted, interval, queue in PERIODIC_JOBS:
        module, _, name = dotted.rpartition(".")
        func = getattr(importlib.import_module(module), name)
        cron.register(func, queue_name=queue, interval=interval, result_ttl=60, job_timeout=300)
    try:
        _rounds(cron, outage, stopping)
    finally:
        with contextlib.suppress(Exception):  # Redis down: the lease expires by itself
            lease.release()


def _rounds(cron, outage: Outage, stopping: list[int]) -> None:
    from rq.exceptions import StopRequested

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
