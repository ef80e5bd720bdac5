"""Keep Redis memory bounded: trim acknowledged outbox entries, retire finished pools, measure.

Nothing else ever removes a key: a pool's hash keeps one field per claim and request, and its
outbox one entry per decision, so a year of sales would fill a ``noeviction`` server until it
refuses writes. Four operations bound it:

* :func:`trim_stream` cuts a stream below the oldest entry some consumer group still needs (the
  oldest pending entry, or the first one never delivered), with one ``XTRIM MINID``. An entry is
  acknowledged only after it is persisted, so everything trimmed is in the system of record.
* :func:`cap_outbox` keeps only the newest entries of a pool whose outbox no one reads (its
  feature writes its record in the same request).
* :func:`retire_pool` deletes every key of a pool once its sale is over and persisted.
* :func:`memory_usage` sums ``MEMORY USAGE`` over a pool's keys (five per bucket: bounded cost).
"""

from __future__ import annotations

from redis.exceptions import ResponseError

from .errors import PoolNotFound
from .keys import pools_key


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def trim_stream(client, key: str) -> int:
    """Remove the entries of stream ``key`` that every consumer group has acknowledged.

    Returns how many were removed. A stream without groups is left alone (no one has read it).
    Safe against concurrent consumers: a group's pending list only gains entries above its
    last-delivered id, and acknowledging only moves the bound up, so a bound computed from a
    slightly stale view never passes an entry still needed.
    """
    try:
        groups = client.xinfo_groups(key)
    except ResponseError:  # no such key: nothing to trim
        return 0
    if not groups:
        return 0
    bound: tuple[int, int] | None = None
    for group in groups:
        last = _parse_id(_text(group["last-delivered-id"]))
        needed = (last[0], last[1] + 1)  # the first entry this group has not been given yet
        if int(group["pending"]):
            oldest = client.xpending(key, _text(group["name"])).get("min")
            if oldest is not None:
                needed = min(needed, _parse_id(_text(oldest)))
        bound = needed if bound is None else min(bound, needed)
    if bound is None or bound <= (0, 1):
        return 0
    return int(client.xtrim(key, minid=f"{bound[0]}-{bound[1]}", approximate=False))


def cap_stream(client, key: str, keep: int = 0) -> int:
    """Cut stream ``key`` to its newest ``keep`` entries; returns how many were removed.

    Only for a stream no one needs to read. If some consumer group reads it after all, only what
    every group acknowledged goes (:func:`trim_stream`), so nothing unread is ever lost.
    """
    try:
        groups = client.xinfo_groups(key)
    except ResponseError:  # no such key: nothing to cut
        return 0
    if groups:
        return trim_stream(client, key)
    return int(client.xtrim(key, maxlen=keep, approximate=False))


def cap_outbox(engine, pool_id: str, keep: int = 0) -> int:
    """:func:`cap_stream` over each of the pool's outbox streams (0 for a pool that is gone)."""
    try:
        keys = engine.outbox_streams(pool_id)
    except PoolNotFound:
        return 0
    return sum(cap_stream(engine.client, key, keep) for key in keys)


def pool_keys(engine, pool_id: str, buckets: int | None = None) -> list[str]:
    """Every key the pool owns (pool hash, holds, transit, outbox, sold-out flag per bucket)."""
    n = buckets if buckets is not None else engine.buckets(pool_id)
    out = []
    for b in range(n):
        k = engine.keys(pool_id, b)
        out += [k.pool, k.holds, k.transit, k.outbox, k.soldout]
    return out


def retire_pool(engine, pool_id: str) -> int:
    """Delete every key of the pool and drop it from the active set; returns keys deleted.

    Idempotent. The pool leaves the active set first, so drainers stop visiting it before its
    streams disappear. The caller must know the outbox is persisted (``lag == 0``) and that no
    more claims can arrive (the sale is over): what the pool held is then only in SQL.
    """
    client = engine.client
    client.srem(pools_key(engine.namespace), pool_id)
    try:
        n = engine.buckets(pool_id)
    except PoolNotFound:  # retired before, or half-retired by a run that died: sweep bucket 0
        n = 1
    deleted = 0
    # Highest bucket first, bucket 0 (which says the pool exists) last, as open_pool writes them.
    for b in reversed(range(n)):
        k = engine.keys(pool_id, b)
        deleted += int(client.delete(k.holds, k.transit, k.outbox, k.soldout, k.pool))
    engine.forget(pool_id)
    return deleted


def memory_usage(engine, pool_id: str) -> int:
    """Bytes the pool's keys take in Redis (``MEMORY USAGE``, sampled for large hashes); 0 for a
    pool that no longer exists. One pipeline of five commands per bucket."""
    try:
        keys = pool_keys(engine, pool_id)
    except PoolNotFound:
        return 0
    return keys_memory(engine.client, keys)


def keys_memory(client, keys: list[str]) -> int:
    """Sum of ``MEMORY USAGE`` over ``keys`` (missing keys count 0), in one pipeline."""
    if not keys:
        return 0
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    return sum(int(v or 0) for v in pipe.execute())
