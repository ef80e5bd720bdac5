"""Helpers for waiting-room tests: queue sales, joining, polling, claiming with a pass."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

from marketplace.models import utcnow

from .factories import bearer, create_sale

_keys = itertools.count()


def queue_sale(client, owner, starts_in: float = -60.0, **overrides) -> int:
    """A published queue-mode sale starting ``starts_in`` seconds from now (negative: live)."""
    now = utcnow()
    body = {
        "mode": "queue",
        "per_member_limit": 1,
        "starts_at": (now + timedelta(seconds=starts_in)).isoformat(),
        "valid_from": (now - timedelta(minutes=5)).isoformat(),
    }
    if starts_in > 0:
        body["queue_opens_at"] = (now - timedelta(seconds=1)).isoformat()
    body.update(overrides)
    return create_sale(client, owner, **body)


def join(client, sale, token):
    return client.post(f"/api/v1/flashsales/{sale}/queue", headers=bearer(token))


def me(client, sale, token):
    return client.get(f"/api/v1/flashsales/{sale}/queue/me", headers=bearer(token))


def claim(client, sale, token, queue_pass=None, key=None):
    headers = {**bearer(token), "Idempotency-Key": key or f"room-{next(_keys):08d}"}
    if queue_pass is not None:
        headers["Queue-Pass"] = queue_pass
    return client.post(f"/api/v1/flashsales/{sale}/claims", headers=headers)


def start_room_now(sale: int) -> None:
    """Move the room's start (not the pool's) to Redis's current time: the places are drawn.

    For tests of the admission rule alone; claims still follow the sale's own window."""
    from flashsale.room import room_keys
    from marketplace.extensions import get_redis

    client = get_redis()
    secs, micros = client.time()
    client.hset(room_keys(sale)[0], "starts", secs * 1000 + micros // 1000)


def wait_until_started(client, sale, token, timeout=10.0) -> dict:
    """Poll the member's status until the places are drawn (the sale started)."""
    deadline = time.monotonic() + timeout
    while True:
        body = me(client, sale, token).get_json()
        if body["place"] is not None or body["state"] not in ("waiting",):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"the room did not start: {body}")
        time.sleep(0.1)
