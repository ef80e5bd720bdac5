"""RQ jobs for group-buy deadlines and outbox retention. Each takes ids, runs in the worker's app
context, and is idempotent: the conditional UPDATEs in :mod:`.states` make a second or late run
change nothing."""

from __future__ import annotations

import logging

from . import states
from .engine import get_engine

log = logging.getLogger(__name__)


def decide_groupbuy(deal_id: int) -> str:
    return states.decide_deal(deal_id)


def expire_team(team_id: int) -> str:
    return states.expire_team(team_id)


def sweep() -> dict:
    """Every 30 s: decide whatever is due, whether or not its own scheduled job ran."""
    deals, teams = states.due()
    # Teams first: a team deal closes at its deadline only after its teams were decided.
    results = {
        "teams": [states.expire_team(t) for t in teams],
        "deals": [states.decide_deal(d) for d in deals],
    }
    if deals or teams:
        log.info("group-buy sweep: %s", results)
    return results


def trim_outboxes() -> int:
    """Every 5 min: empty the group-buy pools' outbox streams; returns entries removed.

    Group-buys write each place to SQL in the request that takes it, so no one reads their
    outbox; without this it would keep one entry per join and leave for good.
    """
    engine = get_engine()
    return sum(engine.cap_outbox(pool_id) for pool_id in engine.active_pools())
