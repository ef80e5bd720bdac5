"""The revocation feed: how a web process checks a token with no round trip at all.

Every raise of an account's token version (logout, password change, card freeze, staff removal)
is appended to one Redis stream, ``<ns>:{auth}:revocations`` (account, version). Each process
keeps ``account -> lowest valid version`` from that stream and reads what is new at most once per
``TOKEN_VERSION_CACHE_SECONDS``, so checking a token costs no Redis call on the hot path; a token
revoked elsewhere works for at most that long (the same window as before).

A revocation only matters while tokens issued before it live, so entries older than
``TOKEN_TTL_SECONDS`` are trimmed. The stream is trusted only while the marker key
``<ns>:{auth}:feed`` exists: after Redis lost data, the marker is gone, every process falls back
to the per-account version check (Redis, then SQL), and :func:`rebuild` (run by the scheduler)
writes the feed again from SQL before it sets the marker.
"""

from __future__ import annotations

import secrets
import threading
import time

from flask import current_app

from ..extensions import db, get_redis

BATCH = 10_000


def _keys() -> tuple[str, str]:
    ns = current_app.config.get("REDIS_NAMESPACE", "shihui")
    return f"{ns}:{{auth}}:revocations", f"{ns}:{{auth}}:feed"


class Feed:
    """One process's view of the stream."""

    def __init__(self):
        self.min_version: dict[int, int] = {}
        self.epoch: bytes | None = None
        self.last_id = "0-0"
        self.checked = float("-inf")
        self.healthy = False
        self.lock = threading.Lock()

    def fresh(self, interval: float) -> bool:
        """Whether the view can be trusted now (reading what is new when it is due)."""
        if time.monotonic() - self.checked < interval:
            return self.healthy
        with self.lock:
            if time.monotonic() - self.checked >= interval:
                self._read()
                self.checked = time.monotonic()
        return self.healthy

    def _read(self) -> None:
        stream, marker = _keys()
        client = get_redis()
        epoch = client.get(marker)
        if epoch is None:
            self.healthy, self.epoch = False, None
            return
        if epoch != self.epoch:  # first read, or the feed was rebuilt: start over
            self.min_version, self.last_id, self.epoch = {}, "0-0", epoch
        while True:
            entries = client.xrange(stream, min=f"({self.last_id}", max="+", count=BATCH)
            for entry_id, fields in entries:
                account, version = int(fields[b"a"]), int(fields[b"v"])
                if version > self.min_version.get(account, 0):
                    self.min_version[account] = version
                self.last_id = entry_id.decode()
            if len(entries) < BATCH:
                break
        self.healthy = True

    def revoked(self, account_id: int, token_version: int) -> bool:
        return token_version < self.min_version.get(account_id, 0)


def feed() -> Feed:
    extensions = current_app.extensions
    view = extensions.get("shihui.revocations")
    if view is None:  # built once per app (every request asks: no Feed() made and dropped)
        view = extensions.setdefault("shihui.revocations", Feed())
    return view


def append(account_id: int, version: int) -> None:
    """Record that tokens of ``account_id`` below ``version`` are revoked (before the version
    key is raised, so a crash in between errs on the side of revoking)."""
    stream, _marker = _keys()
    ttl_ms = (int(current_app.config["TOKEN_TTL_SECONDS"]) + 60) * 1000
    oldest = max(0, int(time.time() * 1000) - ttl_ms)
    get_redis().xadd(stream, {"a": account_id, "v": version}, minid=oldest, approximate=True)


def ensure() -> bool:
    """Write the feed from SQL if its marker is missing (a new or a wiped Redis); idempotent.

    Every account whose version was ever raised is written: the feed cannot tell which of those
    raises still matter, and they are trimmed after ``TOKEN_TTL_SECONDS`` again.
    Returns True when it rebuilt.
    """
    from .models import Account

    stream, marker = _keys()
    client = get_redis()
    if client.exists(marker):
        return False
    rows = db.session.execute(
        db.select(Account.id, Account.token_version).where(Account.token_version > 0)
    )
    pipe = client.pipeline(transaction=False)
    pipe.delete(stream)
    for n, (account_id, version) in enumerate(rows, 1):
        pipe.xadd(stream, {"a": account_id, "v": version})
        if n % BATCH == 0:
            pipe.execute()
    pipe.execute()
    client.set(marker, secrets.token_hex(8), nx=True)
    return True
