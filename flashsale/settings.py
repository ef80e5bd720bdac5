"""Flash-sale tunables: app config first, then the environment (read when used, not at import).

| name | default | meaning |
|---|---|---|
| FLASHSALE_CLAIM_RATE / _BURST | 5 / 5 | per member and sale, whole deployment (0: off) |
| FLASHSALE_META_TTL | 1.0 | seconds a web process trusts its copy of a campaign's metadata |
| FLASHSALE_POLL_TTL | 0.5 | seconds a web process reuses a serialized sale / sale list |
| FLASHSALE_SOLDOUT_CACHE_SECONDS | 0.5 | the engine's in-process sold-out cache |
| FLASHSALE_RECOVER_IDLE_MS | 30000 | pending outbox entries older than this are taken over |
| FLASHSALE_RETIRE_AFTER_SECONDS | 3600 | an audited sale's pool is deleted so long after it ended |
| FLASHSALE_QUEUE_STATUS_BUDGET | 2000 | status calls per second one waiting room may cause |
"""

from __future__ import annotations

import os

from flask import current_app

DEFAULTS = {
    "FLASHSALE_CLAIM_RATE": 5.0,
    "FLASHSALE_CLAIM_BURST": None,  # = rate
    "FLASHSALE_META_TTL": 1.0,
    "FLASHSALE_POLL_TTL": 0.5,
    "FLASHSALE_SOLDOUT_CACHE_SECONDS": 0.5,
    "FLASHSALE_RECOVER_IDLE_MS": 30_000,
    "FLASHSALE_RETIRE_AFTER_SECONDS": 3600.0,
    "FLASHSALE_QUEUE_STATUS_BUDGET": 2000.0,
}


def setting(name: str):
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        return DEFAULTS[name]
    return type(DEFAULTS[name] if DEFAULTS[name] is not None else 0.0)(value)
