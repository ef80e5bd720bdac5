"""Keep long-running loops (drainer, scheduler, worker) alive through Redis and database outages.

A loop wraps one pass in ``try``; on failure it asks :class:`Outage` what broke and how long to
wait, sleeps with :func:`sleep_unless` (so SIGTERM still stops it at once) and tries again. An
outage is logged when it starts, reminded once a minute and logged again when it ends, never once
per attempt: a 10-minute Redis restart must not bury the logs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import redis.exceptions
import sqlalchemy.exc

# BusyLoadingError (a server still loading its AOF) is a ConnectionError in redis-py.
REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# What a database that refuses, drops or cannot serve connections raises through SQLAlchemy
# (OperationalError: refused, terminated, locked; InterfaceError: closed under us; TimeoutError:
# the pool waited in vain). IntegrityError and friends are bugs or bad data, not outages.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)

REMIND_EVERY = 60.0


def classify(exc: BaseException) -> str:
    """``redis``, ``database`` or ``error`` (anything else: a bug or bad data)."""
    if isinstance(exc, REDIS_DOWN):
        return "redis"
    if isinstance(exc, DATABASE_DOWN):
        return "database"
    return "error"


class Backoff:
    """Delays ``first``, 2 x ``first``, ... capped at ``cap``; :meth:`reset` starts over."""

    def __init__(self, first: float = 0.1, cap: float = 2.0):
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


class Outage:
    """What one loop sees as down, with the logging and backoff that go with it."""

    def __init__(self, loop: str, logger: logging.Logger, first: float = 0.1, cap: float = 2.0):
        self.loop = loop
        self.log = logger
        self.backoff = Backoff(first, cap)
        self.kind: str | None = None
        self.since = 0.0
        self._reminded = 0.0

    @property
    def down(self) -> bool:
        return self.kind is not None

    def failed(self, exc: BaseException) -> float:
        """Record a failed attempt; returns how long to wait before the next one."""
        kind = classify(exc)
        now = time.monotonic()
        if kind != self.kind:
            if kind == "error":
                self.log.exception("%s: unexpected error; retrying with backoff", self.loop)
            else:
                self.log.warning(
                    "%s: %s unavailable (%s: %s); retrying with backoff",
                    self.loop, kind, type(exc).__name__, _first_line(exc),
                )  # fmt: skip
            if self.kind is None:
                self.since = now
            self.kind = kind
            self._reminded = now
        elif now - self._reminded >= REMIND_EVERY:
            self.log.warning(
                "%s: %s still unavailable after %.0f s", self.loop, kind, now - self.since
            )
            self._reminded = now
        return self.backoff.next()

    def recovered(self) -> str | None:
        """Call after a successful attempt; returns what was down (and logs it), else None."""
        if self.kind is None:
            return None
        kind, self.kind = self.kind, None
        self.backoff.reset()
        self.log.warning(
            "%s: %s back after %.1f s; resumed", self.loop, kind, time.monotonic() - self.since
        )
        return kind


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


def sleep_unless(seconds: float, stop: Callable[[], bool], step: float = 0.1) -> bool:
    """Sleep ``seconds`` in short steps; True as soon as ``stop()`` is (then stop looping)."""
    deadline = time.monotonic() + seconds
    while not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(step, left))
    return True


def reset_database(db) -> None:
    """Forget a broken session and every pooled connection (they point at a dead server)."""
    with contextlib.suppress(Exception):
        db.session.rollback()
    with contextlib.suppress(Exception):
        db.session.remove()
    with contextlib.suppress(Exception):
        db.engine.dispose()
