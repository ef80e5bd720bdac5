"""Rate limits on top of the ``limits`` library with Redis storage, one limiter per app.

Limits are read from config (strings in ``limits`` notation) so deployments and tests can tune
them: LOGIN_ACCOUNT_LIMIT (failed logins per username), LOGIN_IP_LIMIT (login attempts per client
address), ACTIVATION_CARD_LIMIT (failed activations per card number), ACTIVATION_IP_LIMIT.
"""

from __future__ import annotations

import time

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import RateLimited

DEFAULTS = {
    "LOGIN_ACCOUNT_LIMIT": "10/15minutes",
    "LOGIN_IP_LIMIT": "60/5minutes",
    "ACTIVATION_CARD_LIMIT": "5/15minutes",
    "ACTIVATION_IP_LIMIT": "30/15minutes",
}


def limiter() -> MovingWindowRateLimiter:
    app = current_app
    lim = app.extensions.get("shihui.limiter")
    if lim is None:
        url = app.config["REDIS_URL"]
        if not url:
            from ..extensions import RedisNotConfigured

            raise RedisNotConfigured("rate limits need Redis: set REDIS_URL")
        prefix = f"{app.config.get('REDIS_NAMESPACE', 'shihui')}:limits"
        storage = storage_from_string(url, key_prefix=prefix)
        lim = app.extensions["shihui.limiter"] = MovingWindowRateLimiter(storage)
    return lim


def _item(name: str):
    return parse(current_app.config.get(name) or DEFAULTS[name])


def _retry_after(name: str, key: str) -> int:
    stats = limiter().get_window_stats(_item(name), name, key)
    return max(1, int(stats.reset_time - time.time()) + 1)


def check(name: str, key: str) -> None:
    """Raise 429 if ``key`` has used up limit ``name`` (without counting this call)."""
    if not limiter().test(_item(name), name, key):
        raise RateLimited(_retry_after(name, key))


def hit(name: str, key: str) -> bool:
    """Count one event; False once the limit is exceeded."""
    return limiter().hit(_item(name), name, key)


def hit_or_raise(name: str, key: str) -> None:
    if not hit(name, key):
        raise RateLimited(_retry_after(name, key))


def clear(name: str, key: str) -> None:
    limiter().clear(_item(name), name, key)
