"""Small helpers shared by the inventory tests."""

from __future__ import annotations

import time


def open_now(engine, pool_id, total, limit, **kwargs):
    """Open a pool whose sale window is running now."""
    now = time.time()
    engine.open_pool(pool_id, total, limit, now - 5, now + 3600, **kwargs)


def outbox(engine, pool_id) -> list[dict[str, str]]:
    """Every outbox record of the pool, all buckets, decoded."""
    out = []
    for key in engine.outbox_streams(pool_id):
        for _, fields in engine.client.xrange(key):
            out.append({k.decode(): v.decode() for k, v in fields.items()})
    return out


def by_type(entries, kind) -> list[dict[str, str]]:
    return [e for e in entries if e["type"] == kind]
