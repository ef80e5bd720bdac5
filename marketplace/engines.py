"""One stock engine per feature, each in its own key namespace, on the app's Redis client.

A feature's pools, its active-pool set and its outbox streams live under the feature's namespace,
so a consumer that walks ``engine.active_pools()`` meets only its own feature's pools and reads
only its own feature's entries::

    shihui:{17:0}:pool            flash sales (the base namespace their keys always had)
    shihui:pools
    shihui:catalogue:{gb-5:0}:pool    group-buys: <REDIS_NAMESPACE>:<feature>
    shihui:catalogue:pools

Engines live in ``app.extensions`` (built on first use, never at import time).
"""

from __future__ import annotations

from flask import current_app

from inventory import StockEngine

from .extensions import get_redis

# Flash sales kept the base namespace when features got their own, so a running sale's keys did
# not move on upgrade. Every other feature is under <base>:<feature>.
BASE_NAMESPACE_FEATURES = frozenset({"flashsale"})


def base_namespace() -> str:
    return current_app.config.get("REDIS_NAMESPACE", "shihui")


def namespace_for(feature: str) -> str:
    """The key namespace of ``feature``'s pools."""
    if feature in BASE_NAMESPACE_FEATURES:
        return base_namespace()
    return f"{base_namespace()}:{feature}"


def built_engine(feature: str) -> StockEngine | None:
    """The app's engine of ``feature`` if :func:`engine_for` built it already (no options to
    work out: the claim path asks on every request)."""
    return current_app.extensions.get("engines", {}).get(feature)


def engine_for(feature: str, **options) -> StockEngine:
    """The app's stock engine of ``feature`` (one per feature per app, built on first use).

    ``options`` go to :class:`inventory.StockEngine` (e.g. ``local_cache_ttl``) when the engine
    is built; later calls get that engine as it is (the claim path asks on every request).
    """
    engines = current_app.extensions.setdefault("engines", {})
    engine = engines.get(feature)
    if engine is None:
        config = current_app.config
        options.setdefault("durability", config.get("CLAIM_DURABILITY", "local"))
        options.setdefault("durability_timeout_ms", config.get("CLAIM_DURABILITY_TIMEOUT_MS", 250))
        engine = StockEngine(get_redis(), namespace=namespace_for(feature), **options)
        engine = engines.setdefault(feature, engine)
    return engine
