"""RQ jobs: drain the engine's outbox into SQL, audit sales after they end.

Every function takes ids or nothing, is idempotent and may be killed half-way: an outbox entry
is acknowledged only after the transaction holding its voucher row commits, and a later run
takes over entries a dead consumer left pending.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from flask import current_app

from inventory import OutboxConsumer
from marketplace.observability import OUTBOX_LAG

from .hotpath import get_engine
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


def drain_pool(consumer: OutboxConsumer, pool_id: str, batch: int, min_idle_ms: int) -> int:
    """Persist everything new in one pool's outbox, after taking over stale pending entries."""
    done = 0
    entries = consumer.recover(pool_id, min_idle_ms=min_idle_ms, count=batch)
    while True:
        if not entries:
            entries = consumer.read(pool_id, count=batch)
            if not entries:
                return done
        persist_entries(entries)
        consumer.ack(pool_id, entries)
        done += len(entries)
        entries = []


def drain_outbox(batch: int = 500, kind: str = "rq") -> int:
    """One pass over every pool's outbox (the scheduler runs it every few seconds)."""
    consumer = _consumer(kind)
    min_idle = int(setting("FLASHSALE_RECOVER_IDLE_MS"))
    total, lag = 0, 0
    for pool_id in sorted(get_engine().active_pools()):
        total += drain_pool(consumer, pool_id, batch, min_idle)
        lag += consumer.lag(pool_id)
    OUTBOX_LAG.set(lag)
    check_restart()  # the outbox was just drained: safe to merge SQL back if Redis restarted
    return total


def follow(stop=lambda: False, idle_sleep: float = 0.05, batch: int = 500) -> None:
    """The low-latency drainer ``shihui flashsale drain --follow`` runs: drain, nap when idle."""
    consumer = _consumer("drainer")
    min_idle = int(setting("FLASHSALE_RECOVER_IDLE_MS"))
    last_recover = last_check = 0.0
    while not stop():
        if time.monotonic() - last_check > 1:  # Redis restarted from older data? (recovery.py)
            last_check = time.monotonic()
            check_restart(drain=lambda: drain_outbox(kind="drainer"))
        moved = 0
        for pool_id in get_engine().active_pools():
            if time.monotonic() - last_recover > 5:
                entries = consumer.recover(pool_id, min_idle_ms=min_idle, count=batch)
                if entries:
                    persist_entries(entries)
                    consumer.ack(pool_id, entries)
                    moved += len(entries)
            entries = consumer.read(pool_id, count=batch)
            if entries:
                persist_entries(entries)
                consumer.ack(pool_id, entries)
                moved += len(entries)
        if time.monotonic() - last_recover > 5:
            last_recover = time.monotonic()
        if not moved:
            time.sleep(idle_sleep)


def audit_campaign(campaign_id: int) -> dict:
    """Audit one sale and store the result (see flashsale.audit)."""
    from .audit import run_audit

    return run_audit(campaign_id).as_dict()


def audit_due() -> list[int]:
    """Audit every ended sale that has no audit yet (backs up the job enqueued at publish)."""
    from .audit import sales_needing_audit

    done = []
    for campaign_id in sales_needing_audit():
        audit_campaign(campaign_id)
        done.append(campaign_id)
    return done
