"""Framework-free inventory engine: atomic stock reservation on Redis (redis + stdlib only).

Typical use::

    engine = StockEngine(redis_client, namespace="shihui", local_cache_ttl=0.5)
    engine.open_pool("sale-42", total=100, per_member_limit=1, opens_at=t0, closes_at=t1)
    result = engine.reserve("sale-42", member_id, 1, request_id, {"voucher": code})

See docs/inventory.md for the design, the key layout and the recovery story.
"""

from .cache import SoldOutCache
from .engine import StockEngine
from .errors import (
    ClaimNotDurable,
    ClaimNotFound,
    InventoryError,
    PoolNotFound,
    RebuildMismatch,
    StockBelowClaimed,
)
from .outbox import OutboxConsumer, OutboxEntry
from .recovery import MergeReport
from .results import (
    CANCELLED,
    CLOSED,
    COMMITTED,
    EXPIRED,
    HELD,
    LIMIT_REACHED,
    NOT_OPEN,
    RATE_LIMITED,
    RELEASED,
    RESERVED,
    SOLD_OUT,
    ClaimResult,
    PoolStats,
    ReserveResult,
)
from .retention import keys_memory, trim_stream

__all__ = [
    "CANCELLED",
    "CLOSED",
    "COMMITTED",
    "EXPIRED",
    "HELD",
    "LIMIT_REACHED",
    "NOT_OPEN",
    "RATE_LIMITED",
    "RELEASED",
    "RESERVED",
    "SOLD_OUT",
    "ClaimNotFound",
    "ClaimResult",
    "InventoryError",
    "MergeReport",
    "OutboxConsumer",
    "OutboxEntry",
    "PoolNotFound",
    "ClaimNotDurable",
    "PoolStats",
    "RebuildMismatch",
    "ReserveResult",
    "SoldOutCache",
    "StockBelowClaimed",
    "StockEngine",
    "keys_memory",
    "trim_stream",
]
