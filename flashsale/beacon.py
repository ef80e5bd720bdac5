"""Public randomness for lottery draws: a named future drand round, through an adapter.

At publish the sale names a drand "quicknet" round that is emitted after registration closes
(so nobody, the organiser included, knows it when the commitment is made). At the draw the
adapter fetches that round's ``randomness`` (hex). ``LOTTERY_BEACON`` picks the adapter:

- ``drand`` (default): ``GET https://api.drand.sh/<chain>/public/<round>`` (standard library
  HTTP, 5 s timeout). Unreachable or not yet emitted: :class:`BeaconUnavailable` (the draw
  answers 503 ``beacon_unavailable`` and changes nothing).
- Offline fallback (documented in docs/flashsale.md): where no drand relay is reachable, an
  operator reads the named round's randomness from any other relay or mirror (it is the same
  everywhere and can be checked later against the chain's public key) and passes it:
  ``shihui draw run ID --beacon-value HEX``. The draw records the value as given.
- ``fixed``: tests and rehearsals only, no network: SHA-256 of ``"shihui-fixed-beacon:<round>"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import urllib.request

from flask import current_app

QUICKNET = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
GENESIS, PERIOD = 1692803367, 3  # quicknet: round 1 at GENESIS, one round every PERIOD seconds
HEX = re.compile(r"^[0-9a-f]{32,128}$")


class BeaconUnavailable(Exception):
    pass


def round_after(epoch_seconds: float) -> int:
    """The first quicknet round emitted strictly after ``epoch_seconds``."""
    return max(1, math.floor((epoch_seconds - GENESIS) / PERIOD) + 2)


def round_time(number: int) -> float:
    return GENESIS + (number - 1) * PERIOD


def adapter() -> str:
    """``LOTTERY_BEACON`` from the app config or the environment: ``drand`` or ``fixed``."""
    return current_app.config.get("LOTTERY_BEACON", "drand")


def source() -> str:
    name = adapter()
    return "fixed (tests only)" if name == "fixed" else "drand quicknet " + QUICKNET[:16]


def value(number: int) -> str:
    """The randomness of round ``number`` as lowercase hex."""
    if adapter() == "fixed":
        return hashlib.sha256(f"shihui-fixed-beacon:{number}".encode()).hexdigest()
    url = f"https://api.drand.sh/{QUICKNET}/public/{number}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - fixed https URL
            body = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        raise BeaconUnavailable(f"drand round {number}: {exc}") from None
    found = str(body.get("randomness", "")).lower()
    if int(body.get("round", 0)) != number or not HEX.match(found):
        raise BeaconUnavailable(f"drand round {number}: unexpected answer")
    return found


def check_value(raw: str) -> str:
    found = raw.strip().lower()
    if not HEX.match(found):
        raise ValueError("a beacon value is 32-128 hex digits")
    return found
