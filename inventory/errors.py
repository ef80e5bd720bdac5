"""Typed errors. Each carries the data a caller needs to explain or retry the failure."""

from __future__ import annotations


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
