"""RQ jobs of union services (listed in ``shihui.scheduling.PERIODIC_JOBS``)."""

from __future__ import annotations

from . import seats


def sweep_holds() -> dict:
    """Every 30 s: expire unconfirmed seat holds (their seats return), empty the outboxes."""
    return seats.sweep()
