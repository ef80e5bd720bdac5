"""StockEngine: atomic stock reservation on Redis, one Lua script per operation.

Every decision (window, request-id replay, member limit, stock, outbox record) happens inside
one script on one hash slot. Pools with ``buckets > 1`` spread their stock over several slots;
see :mod:`inventory.buckets` for how a reserve falls over between them.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterable
from datetime import datetime

import redis
from redis.exceptions import NoScriptError, ResponseError

from . import buckets as fallover
from . import recovery, retention, scripts
from .cache import SoldOutCache
from .durability import Durability
from .errors import ClaimNotFound, PoolNotFound, StockBelowClaimed
from .keys import BucketKeys, bucket_keys, check_pool_id, claim_number, home_bucket, pools_key
from .results import (
    CANCELLED,
    CLOSED,
    EXPIRED,
    NOT_OPEN,
    RATE_LIMITED,
    RELEASED,
    SOLD_OUT,
    STATE_NAMES,
    ClaimResult,
    PoolStats,
    ReserveResult,
)

US = "\x1f"
# Outbox fields the engine writes itself; payload keys may not reuse them.
RESERVED_FIELDS = frozenset(
    {"type", "claim_id", "pool_id", "member_id", "qty", "request_id", "ts", "hold_until"}
)
_GIVE_BACK = {RELEASED, EXPIRED, CANCELLED}
# Claim numbers are clock ticks times the bucket count and must stay below 2^53 (reserve.lua).
MAX_BUCKETS = 256


def text(value) -> str | None:
    """Decode a reply element (clients may or may not use ``decode_responses``)."""
    return value.decode() if isinstance(value, bytes) else value


def _moved(reply) -> bool:
    """A pipelined call a cluster node refused because its slot moved (the call ran nothing)."""
    return isinstance(reply, ResponseError) and str(reply).startswith(("MOVED", "ASK"))


def to_ms(when: float | int | datetime) -> int:
    """UNIX epoch seconds or an aware datetime, as integer milliseconds."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime or epoch seconds")
        when = when.timestamp()
    return int(round(float(when) * 1000))


class StockEngine:
    """Stock pools on a redis-py client (``redis.Redis`` or ``redis.cluster.RedisCluster``).

    ``namespace`` prefixes every key. ``local_cache_ttl`` (seconds) turns on an in-process
    :class:`SoldOutCache` that :meth:`reserve` consults before calling Redis.
    ``soldout_flag_ttl`` bounds how long a multi-bucket pool's sold-out flag can stay stale.
    """

    def __init__(
        self,
        client,
        namespace: str = "shihui",
        local_cache_ttl: float | None = None,
        soldout_flag_ttl: float = 5.0,
        expire_batch: int = 500,
        durability: str = "local",
        durability_replicas: int = 1,
        durability_timeout_ms: int = 250,
    ):
        self.client = client
        # How durable a reservation is before reserve() returns it (inventory/durability.py).
        self.durability = Durability(
            client, durability, replicas=durability_replicas, timeout_ms=durability_timeout_ms
        )
        self.namespace = namespace
        self.scripts = scripts.register(client)
        self.cache = SoldOutCache(local_cache_ttl) if local_cache_ttl else None
        self.soldout_flag_ttl_ms = int(soldout_flag_ttl * 1000)
        self.expire_batch = expire_batch
        self._buckets: dict[str, int] = {}
        self._keys: dict[tuple[str, int], BucketKeys] = {}
        self._random = random.Random()
        # One connection per thread for the claim's script (``_own_client``), when ``client``
        # is a plain client with a connection pool (a cluster client routes by key itself).
        self._threads = threading.local() if type(client) is redis.Redis else None

    # -- layout ---------------------------------------------------------------------------

    def keys(self, pool_id: str, bucket: int = 0) -> BucketKeys:
        found = self._keys.get((pool_id, bucket))
        if found is None:  # validate and format once per bucket, not on every call
            found = bucket_keys(self.namespace, check_pool_id(pool_id), bucket)
            if len(self._keys) < 100_000:
                self._keys[(pool_id, bucket)] = found
        return found

    def buckets(self, pool_id: str) -> int:
        """How many buckets the pool has (read once, then cached: it never changes)."""
        n = self._buckets.get(pool_id)
        if n is None:
            raw = self.client.hget(self.keys(pool_id).pool, "n")
            if raw is None:
                raise PoolNotFound(pool_id)
            n = self._buckets[pool_id] = int(raw)
        return n

    def outbox_streams(self, pool_id: str) -> list[str]:
        """The pool's outbox stream keys, one per bucket, in bucket order."""
        return [self.keys(pool_id, b).outbox for b in range(self.buckets(pool_id))]

    def active_pools(self) -> set[str]:
        """Ids of every pool opened in this namespace (each has outbox streams to drain)."""
        return {text(m) for m in self.client.smembers(pools_key(self.namespace))}

    # -- pools ----------------------------------------------------------------------------

    def open_pool(
        self,
        pool_id: str,
        total: int,
        per_member_limit: int,
        opens_at: float | datetime,
        closes_at: float | datetime,
        hold_seconds: float | None = None,
        buckets: int = 1,
    ) -> bool:
        """Create the pool; returns False (and changes nothing) if it already exists.

        Stock is split evenly over ``buckets``. Bucket 0 is written last, so its existence
        (:meth:`pool_exists`) means every bucket exists; a crashed open is finished by a retry.
        """
        check_pool_id(pool_id)
        if total < 0 or per_member_limit < 1 or not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(
                f"need total >= 0, per_member_limit >= 1, 1 <= buckets <= {MAX_BUCKETS}"
            )
        opens, closes = to_ms(opens_at), to_ms(closes_at)
        hold = int(round((hold_seconds or 0) * 1000))
        self.client.sadd(pools_key(self.namespace), pool_id)
        created = 0
        for b in reversed(range(buckets)):
            share = total // buckets + (1 if b < total % buckets else 0)
            k = self.keys(pool_id, b)
            args = [share, per_member_limit, opens, closes, hold, buckets, b]
            created = self.scripts["open"](keys=[k.pool, k.soldout], args=args)
        if created:
            self._buckets[pool_id] = buckets
        return bool(created)

    def retire_pool(self, pool_id: str) -> int:
        """Delete every key of a finished, persisted pool (see :mod:`inventory.retention`)."""
        return retention.retire_pool(self, pool_id)

    def cap_outbox(self, pool_id: str, keep: int = 0) -> int:
        """Keep the newest ``keep`` entries of an outbox no one reads (:mod:`.retention`)."""
        return retention.cap_outbox(self, pool_id, keep)

    def forget(self, pool_id: str) -> None:
        """Drop what this process cached about the pool (after it was retired or rebuilt)."""
        self._buckets.pop(pool_id, None)
        for key in [k for k in self._keys if k[0] == pool_id]:
            del self._keys[key]
        if self.cache is not None:
            self.cache.clear(pool_id)

    def memory_usage(self, pool_id: str) -> int:
        """Bytes the pool's keys take in Redis (0 once retired); five MEMORY USAGE per bucket."""
        return retention.memory_usage(self, pool_id)

    def pool_exists(self, pool_id: str) -> bool:
        return bool(self.client.exists(self.keys(pool_id).pool))

    def close_pool(self, pool_id: str) -> None:
        """End the sale now: every later reserve answers ``closed``; holds can still settle."""
        for b in range(self.buckets(pool_id)):
            self.scripts["close"](keys=[self.keys(pool_id, b).pool])

    def restock(self, pool_id: str, new_total: int) -> int:
        """Set the pool's total stock; raises StockBelowClaimed if members already hold more.

        Returns the new total. On a multi-bucket pool the change is applied bucket by bucket
        (an interrupted restock is completed by calling it again with the same total).
        """
        n = self.buckets(pool_id)
        if n == 1:
            k = self.keys(pool_id)
            reply = self.scripts["restock"](keys=[k.pool, k.soldout], args=["set", new_total])
            if reply[0] == -1:  # the script answers {-1} alone when the pool is gone
                raise PoolNotFound(pool_id)
            ok, stock, cap, _ = reply
            if not ok:
                raise StockBelowClaimed(pool_id, new_total, cap - stock)
            self._stock_returned(pool_id, n)
            return new_total
        return fallover.restock(self, pool_id, n, new_total)

    # -- reserve --------------------------------------------------------------------------

    def reserve(
        self,
        pool_id: str,
        member_id: str,
        qty: int,
        request_id: str,
        payload: dict[str, str] | None = None,
        use_cache: bool = True,
        rate: float | None = None,
        burst: float = 1.0,
    ) -> ReserveResult:
        """Reserve ``qty`` units for ``member_id``: one script call on the member's bucket.

        Refusals are results (``sold_out``, ``limit_reached``, ``not_open``, ``closed``), an
        unknown pool raises :class:`PoolNotFound`. A repeated ``request_id`` returns the first
        reservation with ``replayed=True``; refusals are not remembered (they changed nothing),
        so a retried refusal is decided afresh. With the local cache on, a pool recently seen
        sold out is refused without asking Redis (``cached=True``): pass ``use_cache=False``
        when retrying a request whose first answer was lost.

        With ``rate``, the same script first spends one unit of the member's budget in this
        pool: at most ``rate`` decisions per second, ``burst`` at once (GCRA, Redis server
        time, one field ``q:<member>`` in the member's home bucket, deleted with the pool).
        Over budget the answer is ``rate_limited`` with ``retry_after`` seconds and nothing
        else changes. Replays are answered before the budget is asked, so they never spend it.
        """
        if self.cache is not None and use_cache and self.cache.is_sold_out(pool_id):
            return ReserveResult(SOLD_OUT, pool_id, member_id, qty, request_id, cached=True)
        if qty < 1:
            raise ValueError("qty must be >= 1")
        flat = self._flatten(payload)
        n = self.buckets(pool_id)
        home = home_bucket(member_id, n)
        result = self._reserve_on(
            pool_id, home, member_id, qty, request_id, payload, flat,
            budget=self._budget(rate, burst) if rate is not None else "",
        )  # fmt: skip
        if n > 1 and result.status == fallover.BUCKET_EMPTY:
            result = fallover.reserve_elsewhere(self, result, n, payload, flat)
        if self.cache is not None and (
            result.status == SOLD_OUT or (n == 1 and result.ok and result.remaining == 0)
        ):
            self.cache.mark(pool_id)
            self._check_winners(pool_id)  # a claim since the snapshot (stock came back)?
        return result

    def reserve_many(self, pool_id: str, requests, chunk: int = 500) -> list[ReserveResult]:
        """Many reserves in one pool, answered as :meth:`reserve` would answer them one by one,
        in order (``use_cache=False``, no member budget): ``requests`` are ``(member_id, qty,
        request_id, payload)`` tuples. A lottery draw hands out 40,000 vouchers this way.

        On a one-bucket pool the same reserve script runs once per request, ``chunk`` calls to
        a pipeline (one round trip instead of ``chunk``). Redis runs a connection's commands in
        order, so each call sees what the calls before it changed, exactly as a sequence of
        :meth:`reserve` calls would: the same statuses, remainders, member counts, replays and
        refusals (``limit_reached``, ``sold_out``, ``closed``). Each call is still one atomic
        script; a pipeline is not a transaction, and the batch needs none (a replayed request id
        answers with its first result). Pools with several buckets (a refusal there can fall
        over to another bucket before the next request runs) and engines that wait for
        durability (one ``WAIT`` per claim) take the requests one by one.
        """
        requests = list(requests)
        for _member, qty, _rid, _payload in requests:
            if qty < 1:
                raise ValueError("qty must be >= 1")
        n = self.buckets(pool_id)
        if n > 1 or self.durability.waits:
            return [self.reserve(pool_id, m, q, r, p, use_cache=False) for m, q, r, p in requests]
        script = self.scripts["reserve"]
        keys = self.keys(pool_id, 0).script_keys()
        results: list[ReserveResult] = []
        for start in range(0, len(requests), chunk):
            part = requests[start : start + chunk]
            replies = self._reserve_pipeline(script, keys, pool_id, part)
            for (member, qty, rid, payload), reply in zip(part, replies, strict=True):
                results.append(self._reserve_result(reply, pool_id, 0, member, qty, rid, payload))
        if self.cache is not None and any(
            r.status == SOLD_OUT or (r.ok and r.remaining == 0) for r in results
        ):
            self.cache.mark(pool_id)
            self._check_winners(pool_id)
        return results

    def _reserve_pipeline(self, script, keys: list[str], pool_id: str, part) -> list:
        """One pipeline of reserve script calls; a request whose call found the script missing
        (Redis restarted or flushed its scripts: the call ran nothing) is called again alone."""
        pipe = self._slot_client(keys[0]).pipeline(transaction=False)
        for member, qty, rid, payload in part:
            args = [pool_id, member, qty, rid, "", "", *self._flatten(payload)]
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        replies = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError) or _moved(reply):
                member, qty, rid, payload = part[i]
                args = [pool_id, member, qty, rid, "", "", *self._flatten(payload)]
                replies[i] = script(keys=keys, args=args)  # loads the script / follows MOVED
            elif isinstance(reply, Exception):
                raise reply
        return replies

    def _slot_client(self, key: str):
        """A client on the node holding ``key``: a cluster pipeline refuses scripts, and a
        one-bucket pool's keys share one slot."""
        if not hasattr(self.client, "get_node_from_key"):
            return self.client
        return self.client.get_redis_connection(self.client.get_node_from_key(key))

    @staticmethod
    def _budget(rate: float, burst: float) -> str:
        """The script's budget argument: emission interval and tolerance in milliseconds."""
        if not rate > 0 or not burst >= 1:
            raise ValueError("need rate > 0 and burst >= 1")
        interval = 1000.0 / rate
        return f"{interval!r}:{interval * (burst - 1)!r}"

    def _reserve_on(
        self, pool_id, bucket, member_id, qty, request_id, payload, flat, xfer=None, budget=""
    ):
        k = self.keys(pool_id, bucket)
        transfer = f"{xfer[0]}:{xfer[1]}" if xfer else ""
        args = [pool_id, member_id, qty, request_id, transfer, budget, *flat]
        if self.durability.waits:
            reply, acks = self.durability.call(self.scripts["reserve"], k.script_keys(), args)
            if text(reply[0]) == "reserved":  # new or replayed: either is about to be a 201
                self.durability.require(acks, text(reply[1]))
        else:
            reply = self._call_own("reserve", k.script_keys(), args)
        return self._reserve_result(reply, pool_id, bucket, member_id, qty, request_id, payload)

    def _call_own(self, script: str, keys: list, args: list):
        """``script`` on this thread's connection. A connection broken meanwhile (a server
        restart: the pool would have noticed at checkout) is dropped and the call goes once
        through the pool instead. Only for scripts that a repeat cannot double: a reserve
        repeated with its request id replays the first answer."""
        own = self._own_client()
        if own is None:
            return self.scripts[script](keys=keys, args=args)
        try:
            return self.scripts[script](keys=keys, args=args, client=own)
        except (redis.ConnectionError, redis.TimeoutError):
            own.connection.disconnect()
            return self.scripts[script](keys=keys, args=args)

    def _own_client(self):
        """This thread's client holding one connection of the shared pool for good (None: the
        shared client). A call through the pool checks a connection out and back in (a lock, a
        fork check and a poll of the socket for unread data): 16 of the 78 us of client CPU a
        script call took (issue #13). A forked child makes its own (the pool hands it fresh
        connections); a thread's client gives its connection back when the thread ends."""
        if self._threads is None:
            return None
        own = self._threads.__dict__
        client = own.get("client")
        if client is None or own["pid"] != os.getpid():
            client = own["client"] = redis.Redis(
                connection_pool=self.client.connection_pool, single_connection_client=True
            )
            own["pid"] = os.getpid()
        return client

    def _reserve_result(self, reply, pool_id, bucket, member_id, qty, request_id, payload):
        """The reserve script's reply as a :class:`ReserveResult`."""
        status = text(reply[0])
        if status == "unknown_pool":
            self._buckets.pop(pool_id, None)
            raise PoolNotFound(pool_id)
        if len(reply) < 5:
            return ReserveResult(
                status, pool_id, member_id, qty, request_id,
                remaining=int(reply[2]), member_count=int(reply[3]), bucket=bucket,
                retry_after=int(reply[1]) / 1000 if status == RATE_LIMITED else None,
            )  # fmt: skip
        replayed = bool(reply[4])
        if replayed:
            parts = text(reply[5]).split(US) if reply[5] else []
            payload = dict(zip(parts[::2], parts[1::2], strict=True))
        hold_until = int(reply[6]) / 1000 if reply[6] else None
        return ReserveResult(
            status, pool_id, member_id, qty, request_id, claim_id=text(reply[1]),
            remaining=int(reply[2]), member_count=int(reply[3]), replayed=replayed,
            payload=dict(payload or {}), hold_until=hold_until, bucket=bucket,
        )  # fmt: skip

    @staticmethod
    def _flatten(payload: dict[str, str] | None) -> list[str]:
        if not payload:
            return []
        flat = []
        for key, value in payload.items():
            if key in RESERVED_FIELDS:
                raise ValueError(f"payload key {key!r} is reserved for the engine")
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError("payload keys and values must be str")
            if US in key or US in value:
                raise ValueError("payload may not contain the \\x1f separator")
            flat += (key, value)
        return flat

    # -- holds and cancellations ----------------------------------------------------------

    def commit(self, pool_id: str, claim_id: str) -> ClaimResult:
        """Make a held claim final. ``state`` is ``expired`` if its hold had already run out."""
        return self._claim_op("commit", pool_id, claim_id)

    def release(self, pool_id: str, claim_id: str) -> ClaimResult:
        """Return a held claim's stock (exactly once, whoever races it)."""
        return self._claim_op("release", pool_id, claim_id)

    def cancel(self, pool_id: str, claim_id: str) -> ClaimResult:
        """Give back a committed claim: stock returns once, the member's count drops."""
        return self._claim_op("cancel", pool_id, claim_id)

    def _claim_op(self, name: str, pool_id: str, claim_id: str) -> ClaimResult:
        n = self.buckets(pool_id)
        k = self.keys(pool_id, claim_number(pool_id, claim_id) % n)
        reply = self.scripts[name](keys=k.script_keys(), args=[pool_id, claim_id])
        state = text(reply[0])
        if state == "unknown_claim":
            raise ClaimNotFound(pool_id, claim_id)
        changed = bool(reply[1])
        if changed and state in _GIVE_BACK:
            self._stock_returned(pool_id, n)
        return ClaimResult(pool_id, claim_id, state, changed)

    def expire_holds(self, pool_id: str, now: float | datetime | None = None) -> list[str]:
        """Expire every hold due by ``now`` (default: Redis server time); returns their ids.

        Safe to run from many processes at once: each hold expires exactly once. On a
        multi-bucket pool it also completes stock transfers a crashed client left half-way.
        """
        n = self.buckets(pool_id)
        cutoff = "" if now is None else to_ms(now)
        expired: list[str] = []
        for b in range(n):
            k = self.keys(pool_id, b)
            while True:
                batch = self.scripts["expire"](
                    keys=k.script_keys(), args=[pool_id, cutoff, self.expire_batch]
                )
                expired += [text(c) for c in batch]
                if len(batch) < self.expire_batch:
                    break
        if n > 1:
            fallover.reconcile(self, pool_id, n)
        if expired:
            self._stock_returned(pool_id, n)
        return expired

    def _stock_returned(self, pool_id: str, n: int) -> None:
        """Units came back: forget sold-out flags (one-bucket scripts clear theirs inline)."""
        if self.cache is not None:
            self.cache.clear(pool_id)
        if n > 1:
            fallover.clear_sold_out(self, pool_id)

    # -- reading --------------------------------------------------------------------------

    def is_sold_out(self, pool_id: str) -> bool:
        """One GET on the pool's sold-out flag (also feeds the local cache)."""
        sold_out = bool(self.client.exists(self.keys(pool_id).soldout))
        if sold_out and self.cache is not None:
            self.cache.mark(pool_id)
            self._check_winners(pool_id)
        return sold_out

    def has_request(
        self, pool_id: str, member_id: str, request_id: str, snapshot: bool = False
    ) -> bool:
        """Whether ``member_id``'s ``request_id`` won a claim (one HEXISTS on its home bucket,
        no script): lets a caller answering from the sold-out cache stay truthful to a retry
        of a request that had already succeeded.

        With ``snapshot``, while the local cache holds the pool sold out: a member outside the
        snapshot of members holding request ids (taken once per process when the pool sold out,
        see :meth:`_winners`) is answered ``False`` with no Redis call; the rest ask Redis. The
        snapshot is dropped when stock comes back here, and when a check (on every sold-out
        answer from Redis, so at most ``ttl`` apart under load) finds a claim made since it was
        taken: a ticket that came back and was won through another process is known here
        within one ``ttl``, the same window in which this process's cache hides that ticket.
        """
        if snapshot and self.cache is not None:
            members = self._winners(pool_id)
            if members is not None and str(member_id) not in members:
                return False
        bucket = home_bucket(str(member_id), self.buckets(pool_id))
        field = f"r:{member_id}{US}{request_id}"
        return bool(self.client.hexists(self.keys(pool_id, bucket).pool, field))

    def member_count(self, pool_id: str, member_id: str) -> int:
        """Units ``member_id`` holds in the pool now (claims minus cancels and expiries): one
        HGET of ``m:<member>`` on its home bucket. 0 for an unknown or retired pool."""
        try:
            n = self.buckets(pool_id)
        except PoolNotFound:
            return 0
        key = self.keys(pool_id, home_bucket(str(member_id), n)).pool
        return int(self.client.hget(key, f"m:{member_id}") or 0)

    # Beyond this many members a snapshot costs more memory than the round trips it saves.
    WINNERS_MAX = 200_000

    def _winners(self, pool_id: str) -> frozenset[str] | None:
        """The snapshot of members with a request id in the pool, taken now if there is none
        and no other thread is taking it (that thread's callers ask Redis meanwhile)."""
        members = self.cache.winners(pool_id)
        if members is not None or not self.cache.is_sold_out(pool_id):
            return members
        if not self.cache.loading.acquire(blocking=False):
            return None
        try:
            before = self._claim_seqs(pool_id)
            found: set[str] = set()
            for b in range(self.buckets(pool_id)):
                for field, _ in self.client.hscan_iter(self.keys(pool_id, b).pool, "r:*", 5000):
                    found.add(text(field)[2:].split(US, 1)[0])
                    if len(found) > self.WINNERS_MAX:
                        return None
            if self._claim_seqs(pool_id) == before:  # no claim made while it was read
                self.cache.keep_winners(pool_id, frozenset(found), before)
            return self.cache.winners(pool_id)
        finally:
            self.cache.loading.release()

    def _claim_seqs(self, pool_id: str) -> tuple:
        """Each bucket's claim sequence: it moves with every claim, and only then."""
        pipe = self.client.pipeline(transaction=False)
        for b in range(self.buckets(pool_id)):
            pipe.hget(self.keys(pool_id, b).pool, "seq")
        return tuple(pipe.execute())

    def _check_winners(self, pool_id: str) -> None:
        """On each sold-out answer from Redis (at most one per cache ``ttl`` while requests are
        answered from the cache): one pipelined read of the sequences, if a snapshot exists."""
        seqs = self.cache.winners_seqs(pool_id)
        if seqs is not None:
            self.cache.winners_checked(pool_id, self._claim_seqs(pool_id))

    def stats(self, pool_id: str) -> PoolStats:
        """Totals summed over the buckets (after completing any half-done stock transfer)."""
        n = self.buckets(pool_id)
        if n > 1:
            fallover.reconcile(self, pool_id, n)
        fields = ("cap", "stock", "taken", "held", "members", "closed", "opens", "closes")
        rows = []
        for b in range(n):
            row = self.client.hmget(self.keys(pool_id, b).pool, *fields, "limit", "hold")
            if row[0] is None:
                raise PoolNotFound(pool_id)
            rows.append(row)
        total, remaining, claimed, held, members = (sum(int(r[i]) for r in rows) for i in range(5))
        first = rows[0]
        opens, closes = int(first[6]), int(first[7])
        seconds, micros = self.client.time()
        now = seconds * 1000 + micros // 1000
        if any(text(r[5]) == "1" for r in rows) or now >= closes:
            status = CLOSED
        elif now < opens:
            status = NOT_OPEN
        elif remaining == 0:
            status = SOLD_OUT
        else:
            status = "open"
        hold = int(first[9])
        return PoolStats(
            pool_id, total, remaining, claimed, held, members, status, opens / 1000,
            closes / 1000, int(first[8]), hold / 1000 if hold else None, n,
        )  # fmt: skip

    # -- recovery -------------------------------------------------------------------------

    def rebuild(
        self,
        pool_id: str,
        claims: Iterable[tuple],
        total: int,
        per_member_limit: int,
        opens_at: float | datetime,
        closes_at: float | datetime,
        hold_seconds: float | None = None,
        buckets: int = 1,
        id_gap: int = 10_000,
    ) -> PoolStats:
        """Replace the pool's Redis state with the system of record's claims.

        See :func:`inventory.recovery.rebuild`.
        """
        recovery.rebuild(
            self, pool_id, claims, total, per_member_limit, to_ms(opens_at), to_ms(closes_at),
            int(round((hold_seconds or 0) * 1000)), buckets, id_gap,
        )  # fmt: skip
        self._buckets[pool_id] = buckets
        if self.cache is not None:
            self.cache.clear(pool_id)
        return self.stats(pool_id)

    def merge(
        self, pool_id: str, claims: Iterable[tuple], hold_seconds: float | None = None
    ) -> recovery.MergeReport:
        """Add claims the pool lost (Redis restarted from older data), keeping what it knows.

        Safe under traffic. See :func:`inventory.recovery.merge`.
        """
        return recovery.merge(self, pool_id, claims, int(round((hold_seconds or 0) * 1000)))

    def restore(
        self,
        pool_id: str,
        claims: Iterable[tuple],
        total: int,
        per_member_limit: int,
        opens_at: float | datetime,
        closes_at: float | datetime,
        hold_seconds: float | None = None,
        buckets: int = 1,
    ) -> recovery.MergeReport:
        """Merge ``claims`` into the pool, first reopening it if Redis lost it entirely.

        See :func:`inventory.recovery.restore`.
        """
        return recovery.restore(
            self, check_pool_id(pool_id), claims, total, per_member_limit, to_ms(opens_at),
            to_ms(closes_at), int(round((hold_seconds or 0) * 1000)), buckets,
        )  # fmt: skip

    def known_claims(self, pool_id: str) -> dict[str, tuple[str, str, str, dict]]:
        """Every claim the pool's hashes record: ``{claim_id: (state, member_id, request_id,
        payload)}`` (HSCAN, for audits; not for the hot path)."""
        out = {}
        for b in range(self.buckets(pool_id)):
            for name, value in self.client.hscan_iter(self.keys(pool_id, b).pool, match="c:*"):
                parts = text(value).split(US)
                payload = dict(zip(parts[4::2], parts[5::2], strict=False))
                state = STATE_NAMES[parts[0][0]]
                out[text(name)[2:]] = (state, parts[1], parts[3], payload)
        return out
