"""Outbox consumer: drain a pool's claim records into the system of record.

Every bucket of a pool has its own stream (``engine.outbox_streams(pool_id)``); a consumer
reads all of them with one consumer group per stream (created on first use, from the start).
Acknowledge an entry only after it is persisted; entries of a consumer that died stay pending
and :meth:`OutboxConsumer.recover` takes them over with XAUTOCLAIM. Persisting must therefore
be idempotent (e.g. an upsert keyed by ``claim_id`` + ``type``): an entry can be delivered twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.exceptions import ResponseError

from .engine import text
from .errors import PoolNotFound
from .retention import trim_stream


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox record. ``fields`` holds type, claim_id, pool_id, member_id, qty,
    request_id, ts (ms, Redis server time), hold_until (claims) and the caller's payload."""

    pool_id: str
    bucket: int
    id: str
    fields: dict[str, str]


class OutboxConsumer:
    """A named member of consumer group ``group`` over the outbox streams of each pool."""

    def __init__(self, engine, group: str = "persist", consumer: str = "worker"):
        self.engine = engine
        self.client = engine.client
        self.group = group
        self.consumer = consumer
        self._ready: set[str] = set()
        self._turn = 0

    def _streams(self, pool_id: str) -> list[tuple[int, str]]:
        streams = list(enumerate(self.engine.outbox_streams(pool_id)))
        for _, key in streams:
            if key not in self._ready:
                try:
                    self.client.xgroup_create(key, self.group, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._ready.add(key)
        return streams

    def read(self, pool_id: str, count: int = 100, block_ms: int | None = None) -> list:
        """Up to ``count`` new entries across the pool's streams (each stays pending until
        acknowledged). With ``block_ms``, waits on one stream (rotating) when all are empty."""
        streams = self._streams(pool_id)
        self._turn = (self._turn + 1) % len(streams)
        ordered = streams[self._turn :] + streams[: self._turn]
        entries: list[OutboxEntry] = []
        for bucket, key in ordered:
            if len(entries) >= count:
                break
            entries += self._xread(pool_id, bucket, key, count - len(entries), None)
        if not entries and block_ms:
            bucket, key = ordered[0]
            entries = self._xread(pool_id, bucket, key, count, block_ms)
        return entries

    def _xread(self, pool_id, bucket, key, count, block_ms) -> list[OutboxEntry]:
        try:
            reply = self.client.xreadgroup(
                self.group, self.consumer, {key: ">"}, count=count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            return []  # the pool was retired under us: its streams are gone, do not recreate
        if not reply:
            return []
        _, items = reply[0]
        return [self._entry(pool_id, bucket, entry_id, data) for entry_id, data in items]

    @staticmethod
    def _entry(pool_id, bucket, entry_id, data) -> OutboxEntry:
        return OutboxEntry(
            pool_id, bucket, text(entry_id), {text(k): text(v) for k, v in data.items()}
        )

    def ack(self, pool_id: str, entries) -> int:
        """Acknowledge entries (``OutboxEntry`` objects; a plain id string means bucket 0, the
        only stream of a one-bucket pool). Returns how many were still pending."""
        keys = self.engine.outbox_streams(pool_id)
        by_stream: dict[str, list[str]] = {}
        for entry in entries:
            bucket, entry_id = (0, entry) if isinstance(entry, str) else (entry.bucket, entry.id)
            by_stream.setdefault(keys[bucket], []).append(entry_id)
        return sum(self.client.xack(key, self.group, *ids) for key, ids in by_stream.items())

    def recover(self, pool_id: str, min_idle_ms: int = 60_000, count: int = 100) -> list:
        """Take over up to ``count`` entries pending longer than ``min_idle_ms`` at any consumer
        (XAUTOCLAIM). Entries trimmed from a stream meanwhile are acknowledged and skipped."""
        entries: list[OutboxEntry] = []
        for bucket, key in self._streams(pool_id):
            cursor = "0-0"
            while len(entries) < count:
                try:
                    reply = self.client.xautoclaim(
                        key, self.group, self.consumer, min_idle_ms, cursor,
                        count=count - len(entries),
                    )  # fmt: skip
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    break  # retired under us
                cursor, items = text(reply[0]), reply[1]
                deleted = reply[2] if len(reply) > 2 else []
                entries += [self._entry(pool_id, bucket, i, d) for i, d in items if d is not None]
                if deleted:
                    self.client.xack(key, self.group, *deleted)
                if cursor == "0-0":
                    break
        return entries

    def trim(self, pool_id: str) -> int:
        """Remove the pool's entries every consumer group has acknowledged (``XTRIM MINID`` per
        stream, below the oldest entry still pending or undelivered); returns how many."""
        try:
            keys = self.engine.outbox_streams(pool_id)
        except PoolNotFound:  # retired meanwhile
            return 0
        return sum(trim_stream(self.client, key) for key in keys)

    def pending(self, pool_id: str) -> int:
        """Entries delivered to some consumer of the group and not yet acknowledged."""
        return sum(
            self.client.xpending(key, self.group)["pending"] for _, key in self._streams(pool_id)
        )

    def lag(self, pool_id: str) -> int:
        """Entries not yet acknowledged: never delivered plus pending."""
        total = 0
        for _, key in self._streams(pool_id):
            try:
                groups = self.client.xinfo_groups(key)
            except ResponseError:  # the stream is gone (pool retired): nothing left to persist
                continue
            group = next((g for g in groups if text(g["name"]) == self.group), None)
            if group is None:
                continue
            undelivered = group.get("lag")
            if undelivered is None:  # the server cannot tell after deletions: count them
                last = text(group["last-delivered-id"])
                undelivered = len(self.client.xrange(key, min=f"({last}", max="+"))
            total += int(undelivered) + int(group["pending"])
        return total
