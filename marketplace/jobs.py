"""Platform-level RQ jobs. Jobs run inside the app context that ``shihui worker`` provides."""

from __future__ import annotations

import time

from .extensions import get_redis


def heartbeat() -> float:
    """Record that the worker and scheduler are alive; /readyz-style dashboards read it."""
    now = time.time()
    get_redis().set("shihui:heartbeat:worker", now, ex=120)
    return now
