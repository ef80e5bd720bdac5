"""Typed errors. Each carries the data a caller needs to explain or retry the failure."""

from __future__ import annotations

from redis.exceptions import TimeoutError as RedisTimeoutError


class InventoryError(Exception):
    """Base class; ``code`` is a stable machine-readable name."""

    code = "inventory_error"


class PoolNotFound(InventoryError):
    code = "unknown_pool"

    def __init__(self, pool_id: str):
        super().__init__(f"pool {pool_id!r} does not exist")
        self.pool_id = pool_id


class ClaimNotFound(InventoryError):
    code = "unknown_claim"

    def __init__(self, pool_id: str, claim_id: str):
        super().__init__(f"claim {claim_id!r} not found in pool {pool_id!r}")
        self.pool_id = pool_id
        self.claim_id = claim_id


class StockBelowClaimed(InventoryError):
    """A restock or rebuild asked for a total smaller than what members already hold."""

    code = "stock_below_claimed"

    def __init__(self, pool_id: str, requested_total: int, claimed: int):
        super().__init__(
            f"pool {pool_id!r}: total {requested_total} is below the {claimed} already claimed"
        )
        self.pool_id = pool_id
        self.requested_total = requested_total
        self.claimed = claimed


class RebuildMismatch(InventoryError):
    """A claim handed to ``rebuild`` cannot live where the pool's layout puts it."""

    code = "rebuild_mismatch"

    def __init__(self, pool_id: str, claim_id: str, reason: str):
        super().__init__(f"pool {pool_id!r}, claim {claim_id!r}: {reason}")
        self.pool_id = pool_id
        self.claim_id = claim_id
        self.reason = reason


class ClaimNotDurable(InventoryError, RedisTimeoutError):
    """A reservation was made but not acknowledged as durable in time (``durability`` is
    ``replica`` or ``fsync``): do not report it as a success; a retry with the same request id
    replays it and waits again. A Redis ``TimeoutError`` too, so callers that answer a Redis
    outage with a retryable 503 do the same here."""

    code = "claim_not_durable"

    def __init__(self, claim_id: str | None, mode: str, acks: int, needed: int):
        super().__init__(f"claim {claim_id!r}: {acks} of {needed} {mode} acknowledgements in time")
        self.claim_id = claim_id
        self.mode = mode
        self.acks = acks
        self.needed = needed
