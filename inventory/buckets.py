"""Hot-pool buckets: one pool's stock spread over N hash slots, limits still exact.

Design. Each member has a *home* bucket (``crc32(member_id) % N``). The home bucket holds the
member's count, the member's request ids and every claim the member makes, so the limit check,
the request-id replay and the decrement are one script on one slot — exact, as for one bucket.
Only *stock* moves between buckets: when the home bucket is short, the client asks other
buckets to ``lend`` units (one script on the lender: decrement, note the transfer in its
``transit`` hash), then re-runs ``reserve`` on the home bucket with the transfer id, which
credits the units at most once (``x:<transfer>`` marker) and reserves in the same step.

Why nothing is oversold: a bucket's stock never goes below zero, and units only move by a lend
(-a on one bucket) matched by at most one credit (+a on another). A client that dies between
lend and credit strands the units in ``transit``; :func:`reconcile` (run by ``stats`` and
``expire_holds``) credits them to the receiver, again at most once.

Transient refusals this allows (all documented in docs/inventory.md):
* units in transit are invisible until credited, so a reserve may see ``sold_out`` while a
  crashed client's transfer waits for reconcile;
* a unit borrowed into the home bucket can be taken by another member of that bucket before the
  borrower's reserve runs; the borrower keeps trying the remaining buckets, once each;
* units returned to, or moved into, a bucket the client has already visited are missed;
* the pool-wide sold-out flag is set by compare-and-set on an epoch that every stock return
  (and every fall-over that leaves borrowed units unused) bumps, so a scan that raced such an
  event either fails to set it or sees it cleared right after; it can stay wrongly set for up
  to ``soldout_flag_ttl`` only if the client that returned the stock died before clearing it.
"""

from __future__ import annotations

import uuid

from .errors import PoolNotFound, StockBelowClaimed
from .results import SOLD_OUT, ReserveResult

BUCKET_EMPTY = "bucket_empty"


def reserve_elsewhere(engine, first: ReserveResult, n: int, payload, flat) -> ReserveResult:
    """Fall over from an empty home bucket: borrow units from the others, one at a time.

    Costs one probe of the sold-out flag, then up to two calls per other bucket (lend, then
    reserve-with-credit on the home bucket) until the reserve succeeds or every bucket was tried.
    """
    pool_id, home = first.pool_id, first.bucket
    zero = engine.keys(pool_id, 0)
    pipe = engine.client.pipeline(transaction=False)
    pipe.exists(zero.soldout)
    pipe.hget(zero.pool, "epoch")
    flagged, epoch = pipe.execute()
    if flagged:
        return _sold_out(first)
    result, credited = first, False
    start = engine._random.randrange(n - 1)  # spread borrowers over the lenders
    for step in range(n - 1):
        lender = (home + 1 + (start + step) % (n - 1)) % n
        xfer = uuid.uuid4().hex
        want = first.qty - result.remaining
        k = engine.keys(pool_id, lender)
        got = engine.scripts["lend"](keys=[k.pool, k.transit], args=[xfer, want, home])
        if not got:
            continue
        credited = True
        result = engine._reserve_on(
            pool_id, home, first.member_id, first.qty, first.request_id, payload,
            flat, xfer=(xfer, got),
        )  # fmt: skip
        if result.status != BUCKET_EMPTY:
            if not result.ok or result.replayed:
                clear_sold_out(engine, pool_id)  # borrowed units sit unused in the home bucket
            return result
    if credited:
        # Units we moved are visible again in the home bucket: undo any flag that a
        # concurrent scan set while they were in flight.
        clear_sold_out(engine, pool_id)
    elif result.remaining == 0:
        engine.scripts["soldout_mark"](
            keys=[zero.pool, zero.soldout],
            args=[(epoch.decode() if isinstance(epoch, bytes) else epoch) or "0",
                  engine.soldout_flag_ttl_ms],
        )  # fmt: skip
    return _sold_out(result)


def _sold_out(result: ReserveResult) -> ReserveResult:
    return ReserveResult(
        SOLD_OUT, result.pool_id, result.member_id, result.qty, result.request_id,
        remaining=result.remaining, member_count=result.member_count, bucket=result.bucket,
    )  # fmt: skip


def clear_sold_out(engine, pool_id: str) -> None:
    zero = engine.keys(pool_id, 0)
    engine.scripts["soldout_clear"](keys=[zero.pool, zero.soldout])


def reconcile(engine, pool_id: str, n: int) -> int:
    """Credit every transfer still in transit (idempotent); returns how many were stranded."""
    stranded = 0
    for b in range(n):
        k = engine.keys(pool_id, b)
        for xfer, value in engine.client.hgetall(k.transit).items():
            xfer = xfer.decode() if isinstance(xfer, bytes) else xfer
            value = value.decode() if isinstance(value, bytes) else value
            to, amount = value.split(":")
            receiver = engine.keys(pool_id, int(to)).pool
            stranded += engine.scripts["credit"](keys=[receiver], args=[xfer, amount])
            engine.client.hdel(k.transit, xfer)
    if stranded:
        clear_sold_out(engine, pool_id)
    return stranded


def restock(engine, pool_id: str, n: int, new_total: int) -> int:
    """Move a multi-bucket pool's total to ``new_total``, bucket by bucket."""
    reconcile(engine, pool_id, n)
    keys = [engine.keys(pool_id, b) for b in range(n)]
    caps = []
    for k in keys:
        cap, stock = engine.client.hmget(k.pool, "cap", "stock")
        if cap is None:
            raise PoolNotFound(pool_id)
        caps.append((int(cap), int(stock)))
    delta = new_total - sum(c for c, _ in caps)
    if delta >= 0:
        for b, k in enumerate(keys):
            share = delta // n + (1 if b < delta % n else 0)
            if share:
                engine.scripts["restock"](keys=[k.pool, k.soldout], args=["add", share])
        if delta:
            engine._stock_returned(pool_id, n)
        return new_total
    need, taken = -delta, []
    for k in keys:
        if need == 0:
            break
        reply = engine.scripts["restock"](keys=[k.pool, k.soldout], args=["take", need])
        removed = -int(reply[3])
        need -= removed
        taken.append((k, removed))
    if need:
        for k, removed in taken:  # put back: the decrease cannot be honoured
            engine.scripts["restock"](keys=[k.pool, k.soldout], args=["add", removed])
        claimed = sum(c - s for c, s in caps)
        raise StockBelowClaimed(pool_id, new_total, claimed)
    return new_total
