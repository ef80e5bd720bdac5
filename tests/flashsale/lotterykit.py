"""Lottery test helpers: a sale, registration, the close, and the draw recomputed independently
from what is public (the standard-library recipe of docs/flashsale.md, written again here)."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

from flashsale.models import Campaign
from marketplace.extensions import db
from marketplace.models import utcnow

from .factories import bearer, create_sale

CAMPAIGNS = "/api/v1/merchant/campaigns"


def problem(resp, status, code):
    assert resp.status_code == status, resp.get_json()
    assert resp.get_json()["code"] == code, resp.get_json()


def lottery_sale(client, owner, closes_in=600.0, **overrides) -> int:
    """A published lottery whose registration stays open ``closes_in`` seconds; tests end it
    with :func:`close_now` rather than by sleeping past a short window (a loaded CI machine
    took longer than 1.5 s to create and publish one, and the publish refused: ends_in_past)."""
    now = utcnow()
    body = {
        "mode": "lottery",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(seconds=closes_in)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
        "cancel_deadline": (now + timedelta(days=6)).isoformat(),
    }
    body.update(overrides)
    return create_sale(client, owner, **body)


def register(client, sale, token):
    return client.post(f"/api/v1/flashsales/{sale}/entries", headers=bearer(token))


def entry(client, sale, token) -> dict:
    return client.get(f"/api/v1/flashsales/{sale}/entries/me", headers=bearer(token)).get_json()


def close_now(sale) -> None:
    """End registration now, as if its time had come: the row's end moves to the past, the
    engine pool (empty before the draw: a lottery's pool opens at the close) is opened again
    with the window that follows from it, and the hot-path metadata is rewritten."""
    from flashsale.hotpath import get_engine, write_meta
    from flashsale.services import pool_window

    campaign = db.session.get(Campaign, sale)
    if campaign.ends_at.timestamp() <= time.time():
        return
    campaign.ends_at = utcnow() - timedelta(milliseconds=10)
    db.session.commit()
    engine = get_engine()
    engine.retire_pool(campaign.pool_id)
    engine.open_pool(campaign.pool_id, campaign.total_stock, campaign.per_member_limit,
                     *pool_window(campaign))  # fmt: skip
    write_meta(campaign)


wait_closed = close_now


def draw(client, sale, owner) -> dict:
    close_now(sale)
    resp = client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _lot(key: bytes, line: str):
    ticket, _, weight = line.partition(" ")
    names = [ticket] + [f"{ticket}:{j}" for j in range(1, int(weight or 1))]
    return min(hmac.new(key, n.encode(), hashlib.sha256).digest() for n in names), line


def recompute(record: dict, lines: list[str]) -> tuple[str, list[str], list[str]]:
    """(entrants hash, order, winners) from the public record and entrants list alone."""
    lines = sorted(lines)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    key = hashlib.sha256(f"{record['seed']}:{record['beacon_value']}:{digest}".encode()).digest()
    order = [line.partition(" ")[0] for line in sorted(lines, key=lambda ln: _lot(key, ln))]
    excluded = {e["ticket"] for e in record["excluded"]}
    winners = [t for t in order if t not in excluded][: record["stock"]]
    return digest, order, winners


def public(client, sale, token) -> tuple[dict, list[str]]:
    record = client.get(f"/api/v1/flashsales/{sale}/draw", headers=bearer(token)).get_json()
    listed = client.get(f"/api/v1/flashsales/{sale}/draw/entrants", headers=bearer(token))
    return record, listed.get_data(as_text=True).splitlines()


def secret_order(sale, lines) -> list[str]:
    """The order the draw will produce (tests only: reads the still-secret seed)."""
    from flashsale import beacon, lottery
    from flashsale.models import LotteryDraw

    record = db.session.get(LotteryDraw, sale)
    return lottery.order(record.seed, beacon.value(record.beacon_round), lines)
