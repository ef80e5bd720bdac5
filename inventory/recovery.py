"""Rebuild a pool's Redis state from the system of record after Redis lost data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import PoolNotFound, RebuildMismatch, StockBelowClaimed
from .keys import check_pool_id, claim_number, home_bucket, pools_key

US = "\x1f"
STATE_CHARS = {"held": "h", "committed": "c", "released": "r", "expired": "e", "cancelled": "x"}
CHUNK = 1000
HELD_SHUT_S = 4_102_444_800  # 2100-01-01: "not open yet" while a lost pool is being restored


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


@dataclass
class MergeReport:
    """What :func:`merge` did. ``deficit`` units were restored with no free stock left to cover
    them (claims taken since the restart used it): the pool is oversold by that much, and every
    claim is kept. ``request_clashes``: restored request ids already answered by another claim
    (a retry after the restart got a new claim); ``over_limit``: members now above the limit;
    ``mismatched``: claim ids that do not route to their member's bucket (not restored)."""

    added: int = 0
    known: int = 0
    deficit: int = 0
    request_clashes: int = 0
    over_limit: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    created: bool = False


def merge(engine, pool_id: str, claims: Iterable[tuple], hold_ms: int = 0) -> MergeReport:
    """Add the claims a pool lost (same rows as :func:`rebuild`), keeping everything it knows.

    Safe while the pool takes traffic: each chunk is one script on one bucket, a claim the
    bucket already has (``c:<claim_id>``) is left alone, and the claim sequence moves above every
    restored id. A bucket that ends short of stock borrows free units from the others; what no
    bucket can cover is reported as ``deficit`` (the claims are kept regardless).
    """
    n = engine.buckets(pool_id)
    report = MergeReport()
    per_bucket: list[list[str]] = [[] for _ in range(n)]
    for claim in claims:
        claim_id, member_id, qty, request_id, status = claim[:5]
        payload = claim[5] if len(claim) > 5 else None
        b = home_bucket(str(member_id), n)
        state = STATE_CHARS.get(status)
        if not _routes(pool_id, claim_id, n, b) or state is None or (state == "h" and not hold_ms):
            report.mismatched.append(claim_id)
            continue
        packed = US.join(f"{k}{US}{v}" for k, v in (payload or {}).items())
        per_bucket[b] += [claim_id, str(member_id), str(int(qty)), request_id or "", state, packed]
    short = [0] * n
    for b, args in enumerate(per_bucket):
        k = engine.keys(pool_id, b)
        for i in range(0, len(args), CHUNK * 6):
            reply = engine.scripts["merge"](
                keys=k.script_keys(), args=[pool_id, hold_ms, *args[i : i + CHUNK * 6]]
            )
            if reply[0] == -1:
                raise PoolNotFound(pool_id)
            report.added += int(reply[0])
            report.known += int(reply[1])
            short[b] += int(reply[2])
            report.request_clashes += int(reply[3])
            report.over_limit += [m.decode() if isinstance(m, bytes) else m for m in reply[4]]
    report.deficit = _cover(engine, pool_id, n, sum(short))
    return report


def _routes(pool_id: str, claim_id: str, n: int, bucket: int) -> bool:
    try:
        return claim_number(pool_id, claim_id) % n == bucket
    except ValueError:  # not an id of this pool
        return False


def _cover(engine, pool_id: str, n: int, deficit: int) -> int:
    """Remove ``deficit`` free units from the pool's buckets (the restored claims were counted
    on top of the cap); returns what could not be covered."""
    if deficit and n > 1:
        for b in range(n):
            k = engine.keys(pool_id, b)
            reply = engine.scripts["restock"](keys=[k.pool, k.soldout], args=["take", deficit])
            deficit += int(reply[3]) if reply[0] == 1 else 0
            if not deficit:
                break
    return deficit


def restore(engine, pool_id, claims, total, limit, opens_ms, closes_ms, hold_ms, n) -> MergeReport:
    """Reopen a pool Redis lost entirely, then :func:`merge` the claims into it.

    The pool is created not yet open (so no member can claim against stock that restored claims
    will take), merged, then given its real opening time. A pool that exists is only merged.
    """
    created = engine.open_pool(
        pool_id, total, limit, HELD_SHUT_S, closes_ms / 1000, hold_ms / 1000 or None, n
    )
    report = merge(engine, pool_id, claims, hold_ms)
    if created:
        for b in range(n):
            engine.client.hset(engine.keys(pool_id, b).pool, "opens", opens_ms)
        report.created = True
    return report
