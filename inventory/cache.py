"""In-process sold-out flag with a short time to live."""

from __future__ import annotations

import threading
import time


class SoldOutCache:
    """Remembers for ``ttl`` seconds that a pool was sold out, so hot callers skip Redis.

    A stale entry can refuse a request for at most ``ttl`` seconds after stock came back
    (a release, an expired hold, a restock); that is the price of the fast path.
    """

    def __init__(self, ttl: float = 0.5, clock=time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def mark(self, pool_id: str) -> None:
        with self._lock:
            self._until[pool_id] = self._clock() + self.ttl

    def clear(self, pool_id: str) -> None:
        with self._lock:
            self._until.pop(pool_id, None)

    def is_sold_out(self, pool_id: str) -> bool:
        until = self._until.get(pool_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        self.clear(pool_id)
        return False
