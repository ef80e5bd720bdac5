"""Put SQL's vouchers back into the engine after Redis restarted from older data (or lost it).

Redis is the live counter, SQL the record. When Redis restarts from an AOF or snapshot that
misses its last writes, the pools forget claims that SQL already holds: their stock would be sold
twice, their members could claim again, and a retry with the same Idempotency-Key would get a new
voucher. :func:`reconcile_pools` merges every SQL voucher the engine does not know back into its
pool (claim record, request id, member count, stock) without touching what the pool still knows,
so claims taken meanwhile stay. A pool Redis lost entirely is reopened from the campaign row.

:func:`check_restart` notices a restart by the server's ``run_id`` (it changes on every start) and
runs the reconcile once per restart; the drainer calls it every second, the RQ drain after each
pass. Until it has run, :func:`engine_ready` is False and the claim endpoint answers 503 with
Retry-After, so a retry cannot take a second voucher before its first is restored.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import asdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from marketplace.extensions import db, get_redis
from marketplace.models import utcnow

from . import room
from .hotpath import get_engine
from .models import Campaign, Voucher

log = logging.getLogger(__name__)

# Sales that ended longer ago are left alone (their audit has run); CLI ids are always reconciled.
HORIZON = timedelta(days=2)
LOCK_SECONDS = 30  # a reconciler killed half-way blocks the next one (and claims) this long at most
# Who holds the reconcile lock: the process that took it may take it again at once (its
# reconcile was cut short by an outage and the lock outlived it, e.g. in the AOF).
HOLDER = f"{socket.gethostname()}:{os.getpid()}"
READY_TTL = 0.5


def _key(name: str) -> str:
    return f"{current_app.config.get('REDIS_NAMESPACE', 'shihui')}:fs:{name}"


def run_id(client) -> str:
    """The server's run id (every server's, sorted, on a cluster client)."""
    info = client.info("server")
    if "run_id" in info:
        return str(info["run_id"])
    return ",".join(sorted(str(v.get("run_id")) for v in info.values() if isinstance(v, dict)))


def sql_claims(campaign_id: int):
    """The campaign's vouchers as engine rows ``(claim_id, member, qty, request_id, status,
    payload)``: cancelled vouchers stay cancelled, every other status holds its ticket."""
    rows = db.session.execute(
        select(Voucher.claim_id, Voucher.member_id, Voucher.request_id, Voucher.status,
               Voucher.code).where(Voucher.campaign_id == campaign_id)
    )  # fmt: skip
    for r in rows:
        status = "cancelled" if r.status == "cancelled" else "committed"
        yield (r.claim_id, str(r.member_id), 1, r.request_id or "", status, {"code": r.code})


def reconcile_pool(campaign: Campaign) -> dict:
    """Merge the campaign's SQL vouchers into its pool (reopening a lost pool); a report dict."""
    engine = get_engine()
    from .services import pool_window

    report = engine.restore(
        campaign.pool_id, sql_claims(campaign.id), campaign.total_stock,
        campaign.per_member_limit, *pool_window(campaign),
    )  # fmt: skip
    if report.created and campaign.status == "cancelled":
        engine.close_pool(campaign.pool_id)
    room.configure(campaign)  # a queue sale's room settings (its places are not in SQL)
    out = {"campaign_id": campaign.id, **asdict(report)}
    if report.deficit or report.over_limit or report.mismatched:
        log.error("reconcile of sale %s found problems (vouchers kept): %s", campaign.id, out)
    elif report.added or report.created:
        log.warning("reconcile of sale %s restored lost engine state: %s", campaign.id, out)
    return out


def reconcile_pools(campaign_ids: list[int] | None = None) -> list[dict]:
    """Reconcile the given sales, or every published sale not ended more than ``HORIZON`` ago."""
    stmt = select(Campaign).where(Campaign.status != "draft", Campaign.published_at.is_not(None))
    if campaign_ids:
        # Named on purpose (``shihui flashsale rebuild``): a retired sale's pool comes back from
        # SQL and counts as live again until the retire job deletes it after its next audit.
        stmt = stmt.where(Campaign.id.in_(campaign_ids))
        campaigns = db.session.scalars(stmt.order_by(Campaign.id)).all()
        reports = [reconcile_pool(c) for c in campaigns]
        unretired = [c.id for c in campaigns if c.retired_at is not None]
        if unretired:
            db.session.execute(
                update(Campaign).where(Campaign.id.in_(unretired)).values(retired_at=None)
            )
            db.session.commit()
        return reports
    # Retired sales (their pool deleted on purpose, flashsale.retire) are never reopened.
    stmt = stmt.where(Campaign.ends_at >= utcnow() - HORIZON, Campaign.retired_at.is_(None))
    # The caller's session is left as it is (a drain inside a request or a test shares it).
    return [reconcile_pool(c) for c in db.session.scalars(stmt.order_by(Campaign.id)).all()]


def engine_ready() -> bool:
    """False while the Redis server has restarted and not been reconciled yet (claims wait).

    Asked by the claim endpoint; the answer is cached per process for ``READY_TTL`` seconds (two
    round trips that often, not per claim). A server that never saw a reconcile (no marker) is
    ready: it is a fresh one, or one that lost every pool (claims then find no pool anyway).
    """
    cache = current_app.extensions.setdefault("flashsale.ready", [0.0, True])
    now = time.monotonic()
    if now >= cache[0]:
        client = get_redis()
        seen = client.get(_key("run_id"))
        cache[:] = [now + READY_TTL, seen is None or seen.decode() == run_id(client)]
    return cache[1]


def check_restart(drain=None) -> list[dict] | None:
    """Reconcile once per Redis restart; None when the server is the one last reconciled.

    ``drain`` (optional) persists what the outbox still has first. One process at a time (a lock
    key); the run id is recorded only after every pool was reconciled, so a crash half-way is
    retried by the next check.
    """
    client = get_redis()
    current = run_id(client)
    seen = client.get(_key("run_id"))
    if seen is not None and seen.decode() == current:
        return None
    lock = _key("reconcile_lock")
    if not client.set(lock, HOLDER, nx=True, ex=LOCK_SECONDS):
        held_by = client.get(lock)
        if held_by is None or held_by.decode() != HOLDER:
            return None
        client.expire(lock, LOCK_SECONDS)  # ours, left over from an interrupted attempt
    try:
        log.warning("Redis server %s not reconciled yet: restoring pools from SQL", current)
        if drain is not None:
            drain()
        reports = reconcile_pools()
        from . import quotas  # rules, bans and this month's quota counts (docs/flashsale.md)

        quotas.restore_after_restart()
        client.set(_key("run_id"), current)
        return reports
    finally:
        client.delete(lock)
