"""The stock-engine pools of group-buys: opened at creation, rebuilt from SQL after Redis lost them.

SQL is the record of places (``groupbuy_participants``) and team slots (``groupbuy_teams``), so a
missing pool is rebuilt from those rows with the engine's ``rebuild`` rather than reopened
empty: a deal with 3 of 5 places taken comes back with 2 free, and each member's places still
count against their limit. Request ids are not stored in SQL, so an ``Idempotency-Key`` retry
that straddles the loss answers ``already_joined`` instead of replaying (the partial unique
index stays the backstop).
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from inventory import StockEngine
from marketplace.engines import base_namespace
from marketplace.extensions import db, get_redis

from .engine import get_engine
from .models import GroupBuy, GroupBuyParticipant, GroupBuyTeam

LIVE = ("joined", "confirmed")  # places that hold stock; left and released gave it back
LIVE_TEAMS = ("forming", "succeeded")  # teams that hold a slot of the deal's pool
LOCK_SECONDS = 10
LEGACY_PREFIX = "gb-"  # every group-buy pool id starts so (deal gb-<id>, team gb-<id>-t<team>)


def ensure_pool(deal: GroupBuy) -> None:
    """Open the deal's pool if missing: empty after create, rebuilt from SQL after a loss."""
    if deal.mode == "team":
        total, limit = deal.max_participants // deal.team_size, 1
    else:
        total, limit = deal.max_participants, deal.per_member_limit
    _ensure(deal.pool_id, total, limit, deal.opens_at, deal.deadline, lambda: _deal_claims(deal))


def ensure_team_pool(team: GroupBuyTeam) -> None:
    """Rebuild a forming team's seats pool from its members' places."""
    opens = team.created_at - timedelta(seconds=5)  # as _open_team opened it
    _ensure(team.pool_id, team.size, 1, opens, team.expires_at, lambda: _team_claims(team))


def _ensure(pool_id, total, limit, opens_at, closes_at, claims) -> None:
    engine = get_engine()
    if engine.pool_exists(pool_id):
        return
    # One rebuilder at a time: a second rebuild could overwrite a place reserved in between.
    lock = f"{engine.namespace}:rebuild:{pool_id}"
    redis = get_redis()
    if not redis.set(lock, b"1", nx=True, ex=LOCK_SECONDS):
        for _ in range(40):  # someone else rebuilds it; wait for them (at most ~2 s)
            time.sleep(0.05)
            if engine.pool_exists(pool_id):
                return
        return  # the caller's reserve answers PoolNotFound and the member retries
    try:
        if engine.pool_exists(pool_id):
            return
        rows = claims()
        if rows:
            engine.rebuild(pool_id, rows, total, limit, opens_at, closes_at)
        else:
            engine.open_pool(pool_id, total, limit, opens_at, closes_at)
    finally:
        redis.delete(lock)


def _deal_claims(deal: GroupBuy) -> list[tuple]:
    if deal.mode == "team":
        teams = db.session.execute(
            select(GroupBuyTeam.slot_claim_id, GroupBuyTeam.leader_member_id, GroupBuyTeam.state)
            .where(GroupBuyTeam.groupbuy_id == deal.id)
        ).all()  # fmt: skip
        return [(c, str(m), 1, "", _status(s in LIVE_TEAMS)) for c, m, s in teams]
    return _places(GroupBuyParticipant.groupbuy_id == deal.id)


def _team_claims(team: GroupBuyTeam) -> list[tuple]:
    return _places(GroupBuyParticipant.team_id == team.id)


def _places(where) -> list[tuple]:
    rows = db.session.execute(
        select(
            GroupBuyParticipant.claim_id,
            GroupBuyParticipant.member_id,
            GroupBuyParticipant.qty,
            GroupBuyParticipant.state,
        ).where(where)
    ).all()
    return [(c, str(m), q, "", _status(s in LIVE)) for c, m, q, s in rows]


def _status(live: bool) -> str:
    return "committed" if live else "cancelled"


def rebuild_pools() -> dict:
    """``shihui catalogue rebuild``: open the pools of open deals and forming teams that Redis has
    not got (rebuilt from SQL), then delete the group-buy pools that versions before per-feature
    namespaces kept in the base namespace (``<ns>:{gb-5:0}:pool``, listed in ``<ns>:pools``).

    Idempotent; pools Redis still has are left as they are. Returns counts.
    """
    engine = get_engine()
    deals = db.session.scalars(select(GroupBuy).where(GroupBuy.state == "open")).all()
    teams = db.session.scalars(select(GroupBuyTeam).where(GroupBuyTeam.state == "forming")).all()
    missing = [d.pool_id for d in deals] + [t.pool_id for t in teams]
    missing = {p for p in missing if not engine.pool_exists(p)}
    for deal in deals:
        ensure_pool(deal)
    for team in teams:
        ensure_team_pool(team)
    rebuilt = sum(engine.pool_exists(p) for p in missing)
    legacy = StockEngine(get_redis(), namespace=base_namespace())
    old = sorted(p for p in legacy.active_pools() if p.startswith(LEGACY_PREFIX))
    for pool_id in old:
        legacy.retire_pool(pool_id)
    return {"open_pools": len(deals) + len(teams), "rebuilt": rebuilt, "legacy_deleted": len(old)}
