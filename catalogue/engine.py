"""The stock engine group-buys use: their own namespace (``<REDIS_NAMESPACE>:catalogue``)."""

from __future__ import annotations

from inventory import StockEngine
from marketplace.engines import engine_for

FEATURE = "catalogue"


def get_engine() -> StockEngine:
    """No local sold-out cache: members leave and teams dissolve, so stock comes back often and
    a stale "full" would turn members away from a place that is free again."""
    return engine_for(FEATURE)
