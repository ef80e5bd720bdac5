"""RQ jobs: drain the engine's outbox into SQL, audit sales after they end.

Every function takes ids or nothing, is idempotent and may be killed half-way: an outbox entry
is acknowledged only after the transaction holding its voucher row commits, and a later run
takes over entries a dead consumer left pending.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time

from flask import current_app
from redis.exceptions import ResponseError

from inventory import OutboxConsumer, OutboxEntry, PoolNotFound
from marketplace.extensions import db
from marketplace.heartbeats import beat
from marketplace.observability import OUTBOX_LAG
from marketplace.resilience import Outage, classify, reset_database, sleep_unless

from .hotpath import get_engine, sale_pools
from .persist import persist_entries
from .recovery import check_restart
from .settings import setting

log = logging.getLogger(__name__)

GROUP = "vouchers"


def consumer_name(kind: str) -> str:
    return f"{kind}-{socket.gethostname()}-{os.getpid()}"


def _consumer(kind: str) -> OutboxConsumer:
    ext = current_app.extensions
    key = f"flashsale.consumer.{kind}"
    if key not in ext:
        ext[key] = OutboxConsumer(get_engine(), group=GROUP, consumer=consumer_name(kind))
    return ext[key]


def drain_pool(
    consumer: OutboxConsumer,
    pool_id: str,
    batch: int,
    min_idle_ms: int | None,
    *,
    redeliver: bool = False,
    reads: int | None = None,
) -> int:
    """Persist one pool's outbox entries, ``batch`` at a time; returns how many.

    First this consumer's own pending entries (``redeliver``: after an error, or for a
    predecessor of the same name killed mid-batch), then entries pending longer than
    ``min_idle_ms`` at any consumer (None: skip), then new ones for up to ``reads`` reads (None:
    until none is left). Each batch is acknowledged only after its rows commit.
    """
    done = 0
    if redeliver:
        done += _persist(consumer, pool_id, _own_pending(consumer, pool_id, batch))
    if min_idle_ms is not None:
        stale = consumer.recover(pool_id, min_idle_ms=min_idle_ms, count=batch)
        done += _persist(consumer, pool_id, stale)
    n = 0
    while reads is None or n < reads:
        n += 1
        moved = _persist(consumer, pool_id, consumer.read(pool_id, count=batch))
        if not moved:
            break
        done += moved
    return done


def _persist(consumer: OutboxConsumer, pool_id: str, entries: list[OutboxEntry]) -> int:
    if not entries:
        return 0
    persist_entries(entries)  # commits; only then:
    consumer.ack(pool_id, entries)
    return len(entries)


def drain_outbox(batch: int = 500, kind: str = "rq") -> int:
    """One pass over every sale's outbox (the scheduler runs it every few seconds); then trims
    what every consumer acknowledged, so a stream holds only what is not persisted yet."""
    consumer = _consumer(kind)
    min_idle = int(setting("FLASHSALE_RECOVER_IDLE_MS"))
    total, lag = 0, 0
    for pool_id in sale_pools():
        try:
            total += drain_pool(consumer, pool_id, batch, min_idle)
            consumer.trim(pool_id)
            lag += consumer.lag(pool_id)
        except PoolNotFound:  # retired between listing and reading
            continue
    OUTBOX_LAG.set(lag)
    check_restart()  # the outbox was just drained: safe to merge SQL back if Redis restarted
    return total


DRAINER = "drainer"
HEARTBEAT_TTL = 5  # seconds; the drainer refreshes its mark every second


def follow(
    stop=lambda: False,
    idle_sleep: float = 0.05,
    batch: int = 500,
    name: str = "",
    linger: float = 0.05,
) -> None:
    """The low-latency drainer ``shihui flashsale drain --follow`` runs: drain, nap when idle.

    After a pass that moved fewer than ``batch`` entries of every sale it waits ``linger``
    seconds before the next, so that at a sale's start the rows go in as batches of hundreds,
    not of the handful that arrived during the last commit: each pass pays a fixed cost (five
    Redis calls, a transaction, the conflict check) whatever its size, and that cost per row
    was taken from the web processes' CPU on the same cores (issue #13: 0.12 ms of drainer CPU
    per claim at 2,000 claims/s without the wait). The claims are safe in the outbox meanwhile;
    only the voucher's row appears up to ``linger`` later.

    It never dies of an outage: a Redis or database error is logged once, the loop backs off
    (0.1 s doubling to 2 s), rolls back and drops pooled connections, then resumes. Entries are
    acknowledged only after their rows commit; after any error (and at start, for a predecessor
    of the same stable name killed mid-batch) it first re-reads its own pending entries.
    ``name`` tells apart several drainers on one host (``drainer_name``).
    """
    outage = Outage("drainer", log)
    min_idle = int(setting("FLASHSALE_RECOVER_IDLE_MS"))
    consumer: OutboxConsumer | None = None
    redeliver = True
    last_recover = last_beat = 0.0
    while not stop():
        try:
            if consumer is None:
                consumer = OutboxConsumer(get_engine(), group=GROUP, consumer=drainer_name(name))
            recover = time.monotonic() - last_recover > 5
            moved, full = _follow_pass(consumer, batch, min_idle, redeliver, recover)
            redeliver = False
            if recover:
                last_recover = time.monotonic()
            if time.monotonic() - last_beat >= 1:
                # Redis restarted from older data? Merge SQL's vouchers back (recovery.py).
                check_restart(drain=lambda: drain_outbox(kind="drainer"))
                _beat(consumer, "ok")
                last_beat = time.monotonic()
            outage.recovered()
        except Exception as exc:  # noqa: BLE001 - the loop outlives every failure
            delay = outage.failed(exc)
            kind = classify(exc)
            if kind == "database":
                reset_database(db)
            elif kind == "redis":
                consumer = None  # a fresh server may lack the groups
            redeliver = True
            _beat_quietly(consumer, f"{kind} unavailable")
            if sleep_unless(delay, stop):
                break
            continue
        if not moved:
            time.sleep(idle_sleep)
        elif not full and linger:
            sleep_unless(linger, stop)


def drainer_name(node: str = "") -> str:
    """Stable per host (and ``node``, when one host runs several), so a restarted drainer finds
    at once what its predecessor left pending. Two live drainers must never share a name: each
    re-reads its own pending entries, which would then be the other's batch in flight."""
    return f"{DRAINER}-{socket.gethostname()}" + (f"-{node}" if node else "")


def _follow_pass(
    consumer, batch: int, min_idle: int, redeliver: bool, recover: bool
) -> tuple[int, bool]:
    """One batch per sale, so a busy sale cannot hold up the others' vouchers. Returns how many
    entries moved and whether some sale filled its batch (then more are waiting: no linger)."""
    moved, full = 0, False
    for pool_id in sale_pools():
        try:
            n = drain_pool(
                consumer, pool_id, batch, min_idle if recover else None,
                redeliver=redeliver, reads=1,
            )  # fmt: skip
            if n:
                consumer.trim(pool_id)  # acknowledged = persisted: the stream keeps only the rest
            moved += n
            full = full or n >= batch
        except PoolNotFound:  # retired between listing and reading
            continue
    return moved, full


def _own_pending(consumer: OutboxConsumer, pool_id: str, count: int) -> list[OutboxEntry]:
    """Entries delivered to this consumer and not acknowledged (its PEL, read from id 0)."""
    entries: list[OutboxEntry] = []
    for bucket, key in enumerate(consumer.engine.outbox_streams(pool_id)):
        try:
            reply = consumer.client.xreadgroup(
                consumer.group, consumer.consumer, {key: "0"}, count=count
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            continue  # no group yet, so nothing pending: the first read creates it
        for entry_id, data in reply[0][1] if reply else []:
            entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            if not data:  # trimmed from the stream meanwhile: nothing left to persist
                consumer.client.xack(key, consumer.group, entry_id)
                continue
            fields = {_text(k): _text(v) for k, v in data.items()}
            entries.append(OutboxEntry(pool_id, bucket, entry_id, fields))
    return entries


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _beat(consumer: OutboxConsumer, state: str) -> None:
    lag = 0
    for pool_id in sale_pools():
        with contextlib.suppress(PoolNotFound):  # retired meanwhile
            lag += consumer.lag(pool_id)
    OUTBOX_LAG.set(lag)
    beat(DRAINER, HEARTBEAT_TTL, state=state, lag=lag, pid=os.getpid(), consumer=consumer.consumer)


def _beat_quietly(consumer: OutboxConsumer | None, state: str) -> None:
    """Say why the drainer is waiting (when Redis itself answers)."""
    with contextlib.suppress(Exception):
        name = consumer.consumer if consumer else drainer_name()
        beat(DRAINER, HEARTBEAT_TTL, state=state, pid=os.getpid(), consumer=name)


def audit_campaign(campaign_id: int) -> dict:
    """Audit one sale and store the result (see flashsale.audit)."""
    from .audit import run_audit

    return run_audit(campaign_id).as_dict()


def draw_lottery(campaign_id: int) -> dict | None:
    """Run a lottery sale's draw once its beacon round is out (enqueued at publish). Already
    drawn: nothing. The beacon not reachable yet: tried again a minute later."""
    from datetime import timedelta

    from marketplace.errors import Problem
    from marketplace.extensions import get_queue

    from . import lottery
    from .models import Campaign

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.status == "cancelled":
        return None
    try:
        return lottery.public(lottery.run_draw(campaign))
    except Problem as exc:
        if exc.code == "beacon_unavailable":
            get_queue("low").enqueue_in(timedelta(minutes=1), draw_lottery, campaign_id)
        log.info("draw of sale %s not run: %s", campaign_id, exc.code)
        return None


def tell_lottery_waiting(campaign_id: int) -> int:
    """A drawn lottery's waiting list learns the result (enqueued by the draw; safe to rerun)."""
    from . import lottery

    return lottery.tell_waiting(campaign_id)


def retire_due() -> list[int]:
    """Delete the Redis pools of sales that ended, passed their audit and are persisted."""
    from .retire import retire_due as run

    return run(GROUP)


def audit_due() -> list[int]:
    """Audit every ended sale that has no audit yet (backs up the job enqueued at publish)."""
    from .audit import sales_needing_audit

    done = []
    for campaign_id in sales_needing_audit():
        audit_campaign(campaign_id)
        done.append(campaign_id)
    return done


def sweep_no_shows() -> int:
    """Bar members whose unused tickets reached a no-show rule (docs/flashsale.md)."""
    from .quotas import sweep_no_shows as run

    return len(run())


def reconcile_quota_holds() -> dict:
    """Settle quota holds a crash left pending between the quota and the stock step."""
    from .quotas import reconcile_holds

    return reconcile_holds()


def lottery_hand_ons() -> dict:
    """Lottery wins not confirmed in time pass on; stock back in a drawn pool reaches the
    waiting list (flashsale.handon.sweep)."""
    from .handon import sweep

    return sweep()
