"""Liveness marks that long-running processes refresh in Redis and ``/readyz`` reads.

A mark is a small hash with a TTL a few times the refresh interval: a process that dies (or
hangs) simply lets it expire, so readers need no clock agreement beyond "is it there".
"""

from __future__ import annotations

import time

from flask import current_app

from .extensions import get_redis


def heartbeat_key(name: str) -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:heartbeat:{name}"


def beat(name: str, ttl: int, **fields) -> None:
    """Refresh ``name``'s mark for ``ttl`` seconds with ``fields`` (and the time, ``at``)."""
    key = heartbeat_key(name)
    mapping = {k: str(v) for k, v in fields.items()}
    mapping["at"] = f"{time.time():.3f}"
    pipe = get_redis().pipeline(transaction=False)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, ttl)
    pipe.execute()


def read(name: str) -> dict[str, str] | None:
    """The mark's fields, or None when the process has not refreshed it within its TTL."""
    raw = get_redis().hgetall(heartbeat_key(name))
    if not raw:
        return None
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in raw.items()
    }
