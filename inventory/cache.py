"""In-process sold-out flag with a short time to live, and the snapshot of who won."""

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
        # pool -> (members holding a request id, per-bucket claim sequences read with them)
        self._winners: dict[str, tuple[frozenset[str], tuple]] = {}
        self.loading = threading.Lock()  # one thread per process takes a snapshot at a time

    def mark(self, pool_id: str) -> None:
        with self._lock:
            self._until[pool_id] = self._clock() + self.ttl

    def clear(self, pool_id: str) -> None:
        """Stock came back (or the pool was rebuilt or retired): forget the flag and the winners
        snapshot, whose members may no longer be everyone who won."""
        with self._lock:
            self._until.pop(pool_id, None)
            self._winners.pop(pool_id, None)

    def winners(self, pool_id: str) -> frozenset[str] | None:
        """Members that held a request id in the pool when it sold out, while the flag holds."""
        entry = self._winners.get(pool_id)
        return entry[0] if entry is not None and self.is_sold_out(pool_id) else None

    def keep_winners(self, pool_id: str, members: frozenset[str], seqs: tuple) -> None:
        with self._lock:
            if pool_id in self._until:  # not if stock came back while it was read
                self._winners[pool_id] = (members, seqs)
            # Snapshots of pools no longer held sold out here (over, retired, restocked) go.
            for other in [p for p in self._winners if p not in self._until]:
                del self._winners[other]

    def winners_seqs(self, pool_id: str) -> tuple | None:
        entry = self._winners.get(pool_id)
        return entry[1] if entry is not None else None

    def winners_checked(self, pool_id: str, seqs: tuple) -> None:
        """Keep the snapshot if no claim was made since it was taken, else drop it."""
        with self._lock:
            entry = self._winners.get(pool_id)
            if entry is None:
                return
            if entry[1] != seqs:
                del self._winners[pool_id]

    def is_sold_out(self, pool_id: str) -> bool:
        until = self._until.get(pool_id)
        if until is None:
            return False
        if self._clock() < until:
            return True
        with self._lock:  # expired: the snapshot stays, to be checked when Redis answers again
            if self._until.get(pool_id) == until:
                del self._until[pool_id]
        return False
