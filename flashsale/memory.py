"""Redis memory per sale: for the admin console and ``/metrics`` (``shihui_sale_redis_bytes``).

A sale's bytes are ``MEMORY USAGE`` summed over its pool's keys (five per bucket) and its
claim-path metadata hash: one pipeline, sampled for large hashes, so a scrape costs a few
commands per live sale. Retired sales hold nothing. ``/metrics`` reports at most
:data:`MAX_SALES` sales (the newest ids) and the server's ``used_memory``.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily

from inventory import PoolNotFound, keys_memory
from inventory.retention import pool_keys
from marketplace.extensions import get_redis

from .hotpath import get_engine, meta_key, sale_pools

MAX_SALES = 200


def _keys(engine, pool_id: str) -> list[str]:
    try:
        keys = pool_keys(engine, pool_id)
    except PoolNotFound:
        keys = []
    return [*keys, meta_key(int(pool_id))]


def sale_bytes(campaigns) -> dict[int, int]:
    """Bytes each published, unretired campaign takes in Redis (0 for the others)."""
    engine = get_engine()
    out = {}
    for c in campaigns:
        if c.status == "draft" or c.retired_at is not None:
            out[c.id] = 0
        else:
            out[c.id] = keys_memory(engine.client, _keys(engine, c.pool_id))
    return out


class SaleMemoryCollector:
    """Prometheus collector read at scrape time (inside the request's app context)."""

    def collect(self):
        per_sale = GaugeMetricFamily(
            "shihui_sale_redis_bytes",
            "Redis memory a live (unretired) flash sale's pool and metadata take",
            labels=["sale"],
        )
        used = GaugeMetricFamily("shihui_redis_used_memory_bytes", "Redis INFO used_memory")
        try:
            engine = get_engine()
            pools = sale_pools()[-MAX_SALES:]
            for pool_id in pools:
                per_sale.add_metric([pool_id], keys_memory(engine.client, _keys(engine, pool_id)))
            used.add_metric([], int(get_redis().info("memory").get("used_memory", 0)))
        except Exception:  # noqa: S110 - metrics must answer even when Redis does not
            pass
        yield per_sale
        yield used
