"""Rebuild a pool's Redis state from the system of record after Redis lost data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .errors import RebuildMismatch, StockBelowClaimed
from .keys import check_pool_id, claim_number, home_bucket, pools_key

US = "\x1f"
STATE_CHARS = {"held": "h", "committed": "c", "released": "r", "expired": "e", "cancelled": "x"}
CHUNK = 1000


def rebuild(
    engine,
    pool_id: str,
    claims: Iterable[tuple],
    total: int,
    limit: int,
    opens_ms: int,
    closes_ms: int,
    hold_ms: int,
    n: int,
    id_gap: int,
) -> None:
    """Replace every bucket of ``pool_id`` with the state implied by ``claims``.

    ``claims`` yields ``(claim_id, member_id, qty, request_id, status[, payload])`` with status
    one of held / committed / released / expired / cancelled. Held claims get a fresh hold of
    ``hold_ms``. Finished claims are kept too, so their request ids still replay. The claim
    sequence restarts above the highest claim number plus ``id_gap``, so ids that were handed
    out but never reached the system of record are not issued again. Each bucket is written to
    a scratch key and swapped in with RENAME; run it while the pool takes no traffic, after the
    outbox consumers have drained what Redis still had.
    """
    check_pool_id(pool_id)
    records = [defaultdict(dict) for _ in range(n)]  # bucket -> field -> value
    holds = [{} for _ in range(n)]
    counts = [defaultdict(int) for _ in range(n)]
    requests = []
    taken, held = [0] * n, [0] * n
    seconds, micros = engine.client.time()
    now = seconds * 1000 + micros // 1000
    top = 0
    for claim in claims:
        claim_id, member_id, qty, request_id, status = claim[:5]
        payload = claim[5] if len(claim) > 5 else None
        number = claim_number(pool_id, claim_id)
        b = home_bucket(member_id, n)
        if number % n != b:
            raise RebuildMismatch(pool_id, claim_id, f"claim ids of a {n}-bucket pool differ")
        state = STATE_CHARS.get(status)
        if state is None:
            raise RebuildMismatch(pool_id, claim_id, f"unknown status {status!r}")
        if state == "h" and not hold_ms:
            raise RebuildMismatch(pool_id, claim_id, "held claim in a pool without holds")
        top = max(top, number)
        until = now + hold_ms if state == "h" else 0
        rec = f"{state}{until}{US}{member_id}{US}{int(qty)}{US}{request_id}"
        if payload:
            rec += US + US.join(f"{k}{US}{v}" for k, v in payload.items())
        records[b][f"c:{claim_id}"] = rec
        if state in "hc":
            counts[b][member_id] += int(qty)
            taken[b] += int(qty)
        if state == "h":
            held[b] += int(qty)
            holds[b][claim_id] = until
        if request_id:
            requests.append((b, request_id, claim_id, member_id))
    claimed = sum(taken)
    if total < claimed:
        raise StockBelowClaimed(pool_id, total, claimed)
    free = total - claimed
    stock = [free // n + (1 if b < free % n else 0) for b in range(n)]
    for b, request_id, claim_id, member_id in requests:
        records[b][f"r:{member_id}{US}{request_id}"] = (
            f"{claim_id}{US}{stock[b]}{US}{counts[b][member_id]}"
        )
    seq = (top + id_gap) // n + 1
    for b in reversed(range(n)):  # bucket 0 last: its existence means the pool is complete
        fields = records[b]
        fields.update({f"m:{m}": c for m, c in counts[b].items() if c > 0})
        fields.update(
            stock=stock[b], cap=stock[b] + taken[b], taken=taken[b], held=held[b], seq=seq,
            members=sum(1 for c in counts[b].values() if c > 0), limit=limit, opens=opens_ms,
            closes=closes_ms, closed=0, hold=hold_ms, n=n, b=b, epoch=0,
        )  # fmt: skip
        _write_bucket(engine, pool_id, b, fields, holds[b], n == 1 and stock[b] == 0)
    engine.client.sadd(pools_key(engine.namespace), pool_id)


def _write_bucket(engine, pool_id, b, fields, holds, sold_out) -> None:
    k = engine.keys(pool_id, b)
    scratch = k.pool + ":rebuild"
    client = engine.client
    client.delete(scratch)
    items = list(fields.items())
    for i in range(0, len(items), CHUNK):
        client.hset(scratch, mapping=dict(items[i : i + CHUNK]))
    client.rename(scratch, k.pool)
    client.delete(k.holds, k.transit)
    hold_items = list(holds.items())
    for i in range(0, len(hold_items), CHUNK):
        client.zadd(k.holds, dict(hold_items[i : i + CHUNK]))
    if sold_out:
        client.set(k.soldout, 1)
    else:
        client.delete(k.soldout)
