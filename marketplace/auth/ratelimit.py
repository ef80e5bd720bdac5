"""Rate limits on top of the ``limits`` library with Redis storage, one limiter per app.

Limits are read from config (strings in ``limits`` notation) so deployments and tests can tune
them. Logins and activations are guarded by a :class:`Throttle`: failures per (account, client
address) pair block that pair only; failures per account from all addresses, past a much higher
ceiling, only slow every address down. No one can lock a member out from somewhere else, and an
attacker spreading over many addresses still gets one try per address per window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import RateLimited

DEFAULTS = {
    "LOGIN_PAIR_LIMIT": "10/15minutes",  # failed logins per username and address
    "LOGIN_ACCOUNT_LIMIT": "100/15minutes",  # failed logins per username; past it, slow down
    "LOGIN_SLOW_LIMIT": "1/minute",  # attempts per username and address while slowed down
    # Per address: sized for carrier-grade NAT, where one public address fronts thousands of
    # phones and a sale's opening minute brings many of them to log in at once; the per-account
    # limits above stay strict (README, "Behind a proxy").
    "LOGIN_IP_LIMIT": "1200/5minutes",  # login attempts per address
    "ACTIVATION_PAIR_LIMIT": "5/15minutes",
    "ACTIVATION_CARD_LIMIT": "50/15minutes",
    "ACTIVATION_SLOW_LIMIT": "1/minute",
    "ACTIVATION_IP_LIMIT": "300/15minutes",  # failed activations per address (CGNAT, as above)
    # Password resets with a code the union issued (marketplace/auth/reset.py): tries per card
    # and address, per card (then slowed down), and per address.
    "RESET_PAIR_LIMIT": "5/15minutes",
    "RESET_CARD_LIMIT": "20/15minutes",
    "RESET_SLOW_LIMIT": "1/minute",
    "RESET_IP_LIMIT": "100/15minutes",
    "MESSAGE_SEND_LIMIT": "5/minute",  # conversation messages a member may send (messaging)
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


@dataclass(frozen=True)
class Throttle:
    """Failure limits for one kind of secret check (login, activation); names are settings."""

    pair: str
    account: str
    slow: str

    @staticmethod
    def _pair(account: str, address: str | None) -> str:
        return f"{account}|{address or 'unknown'}"

    def before(self, account: str, address: str | None) -> None:
        """429 if this pair failed too often, or if the account is under attack and this pair
        has used its slowed-down allowance."""
        pair = self._pair(account, address)
        check(self.pair, pair)
        if not limiter().test(_item(self.account), self.account, account):
            hit_or_raise(self.slow, pair)

    def failed(self, account: str, address: str | None) -> None:
        hit(self.pair, self._pair(account, address))
        hit(self.account, account)

    def succeeded(self, account: str, address: str | None) -> None:
        # Only this pair: the account-wide count is the attack, and the attack goes on.
        clear(self.pair, self._pair(account, address))


LOGIN = Throttle("LOGIN_PAIR_LIMIT", "LOGIN_ACCOUNT_LIMIT", "LOGIN_SLOW_LIMIT")
ACTIVATION = Throttle("ACTIVATION_PAIR_LIMIT", "ACTIVATION_CARD_LIMIT", "ACTIVATION_SLOW_LIMIT")
RESET = Throttle("RESET_PAIR_LIMIT", "RESET_CARD_LIMIT", "RESET_SLOW_LIMIT")
