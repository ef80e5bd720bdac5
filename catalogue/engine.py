"""The stock engine group-buys use, one per process on the app's Redis client."""

from __future__ import annotations

from flask import current_app

from inventory import StockEngine
from marketplace.extensions import get_redis


def get_engine() -> StockEngine:
    """No local sold-out cache: members leave and teams dissolve, so stock comes back often and
    a stale "full" would turn members away from a place that is free again."""
    ext = current_app.extensions
    engine = ext.get("catalogue.engine")
    if engine is None:
        namespace = current_app.config.get("REDIS_NAMESPACE", "shihui")
        engine = ext.setdefault("catalogue.engine", StockEngine(get_redis(), namespace=namespace))
    return engine
