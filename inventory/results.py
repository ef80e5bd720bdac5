"""Result values returned by the engine (refusals are results, not exceptions)."""

from __future__ import annotations

from dataclasses import dataclass, field

RESERVED = "reserved"
SOLD_OUT = "sold_out"
LIMIT_REACHED = "limit_reached"
NOT_OPEN = "not_open"
CLOSED = "closed"
RATE_LIMITED = "rate_limited"  # only when reserve() is given a member budget

# Claim states (ClaimResult.state).
HELD = "held"
COMMITTED = "committed"
RELEASED = "released"
EXPIRED = "expired"
CANCELLED = "cancelled"

STATE_NAMES = {"h": HELD, "c": COMMITTED, "r": RELEASED, "e": EXPIRED, "x": CANCELLED}


@dataclass(frozen=True)
class ReserveResult:
    """Outcome of :meth:`StockEngine.reserve`.

    ``remaining`` is the stock left where the decision was taken: the pool for one bucket, the
    member's home bucket for ``buckets > 1`` (use :meth:`StockEngine.stats` for the pool total).
    ``member_count`` is how many units the member holds after the call. ``replayed`` is True when
    the request id had been seen: then every field is the first call's. ``cached`` is True when the
    in-process sold-out cache answered without asking Redis. ``retry_after`` (seconds) is set
    for ``rate_limited``: when the member's budget has a unit again.
    """

    status: str
    pool_id: str
    member_id: str
    qty: int
    request_id: str
    claim_id: str | None = None
    remaining: int = 0
    member_count: int = 0
    replayed: bool = False
    payload: dict[str, str] = field(default_factory=dict)
    hold_until: float | None = None
    bucket: int = 0
    cached: bool = False
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == RESERVED


@dataclass(frozen=True)
class ClaimResult:
    """Outcome of commit / release / cancel: the claim's state after the call.

    ``changed`` is True only for the one call that made the transition, so among racing callers
    exactly one sees ``changed=True`` for a given claim and state.
    """

    pool_id: str
    claim_id: str
    state: str
    changed: bool


@dataclass(frozen=True)
class PoolStats:
    pool_id: str
    total: int
    remaining: int
    claimed: int  # held + committed units
    held: int
    members: int  # distinct members holding at least one unit
    status: str  # not_open / open / sold_out / closed
    opens_at: float
    closes_at: float
    per_member_limit: int
    hold_seconds: float | None
    buckets: int
