"""What the claim path promises beyond its status codes: the words and fields of its refusals,
the outcome counted for each, and the sold-out answer that costs no Redis call for a member who
holds no ticket — with union quota rules too, where the quota is then not asked (the mutation
run of issue #19 found these unchecked: docs/mutation.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from flashsale import recovery
from flashsale.hotpath import get_engine
from marketplace.auth import revocations
from marketplace.extensions import get_redis
from marketplace.models import utcnow

from .factories import bearer, create_sale, make_members, make_merchant
from .lotterykit import lottery_sale
from .roomkit import claim as room_claim
from .roomkit import queue_sale
from .test_merchant_api import admin_token


def commands() -> int:
    """Commands the server processed so far (the INFO call itself counts one)."""
    return int(get_redis().info("stats")["total_commands_processed"])


def counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("shihui_claims_total", {"outcome": outcome}) or 0.0


def test_idempotency_key_refusals_say_what_a_key_must_be(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    missing = client.post(f"/api/v1/flashsales/{sale}/claims", headers=bearer(token))
    assert missing.status_code == 400
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.get_json()["code"] == "idempotency_key_required"
    assert missing.get_json()["detail"] == (
        "Send an Idempotency-Key header (8-64 characters of A-Z a-z 0-9 _ . : -)."
    )
    bad = claim(sale, token, key="short")
    assert (bad.status_code, bad.get_json()["code"]) == (400, "idempotency_key_invalid")
    assert bad.get_json()["detail"] == (
        "The Idempotency-Key header must be 8-64 characters of A-Z a-z 0-9 _ . : -."
    )


def test_not_started_says_so_with_the_opening_and_the_server_clock(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    opens = utcnow() + timedelta(hours=1)
    sale = create_sale(client, owner, starts_at=opens.isoformat())
    before = counted("not_started")
    resp = claim(sale, token)
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["code"] == "not_started"
    assert body["detail"] == "This sale has not started yet."
    starts_at = datetime.fromisoformat(body["starts_at"])
    assert abs(starts_at - opens) < timedelta(seconds=1) and starts_at.tzinfo is not None
    server_time = datetime.fromisoformat(body["server_time"])
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=30)
    assert counted("not_started") == before + 1


def test_a_queue_sale_without_a_pass_counts_as_pass_refused(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = queue_sale(client, owner)
    before = counted("pass_refused")
    resp = room_claim(client, sale, token)
    assert (resp.status_code, resp.get_json()["code"]) == (403, "pass_required")
    assert counted("pass_refused") == before + 1


@pytest.mark.parametrize("with_rules", [False, True], ids=["plain", "union-quota-rules"])
def test_a_sold_out_refusal_costs_no_redis_call_for_a_member_without_a_ticket(
    app_ctx, client, claim, with_rules, monkeypatch
):
    """After the sell-out, the process answers members outside its winners snapshot from
    memory: no script, no HEXISTS, and with quota rules no quota step either. A winner's retry
    still gets their ticket (it asks Redis)."""
    # The process's periodic checks (sale metadata, token versions, "is Redis the server last
    # reconciled?") each cost one call per interval, not per claim: long intervals keep them out.
    app_ctx.config.update(
        FLASHSALE_CLAIM_RATE=1000, FLASHSALE_META_TTL=600, TOKEN_VERSION_CACHE_SECONDS=600
    )
    monkeypatch.setattr(recovery, "READY_TTL", 600)
    revocations.ensure()  # the revocation feed, as the app's start makes it (tests flush)
    app_ctx.extensions.pop("shihui.revocations", None)
    _, owner = make_merchant()
    (_, winner), *others = make_members(6)
    sale = create_sale(client, owner, total_stock=1)
    if with_rules:
        put = client.put(
            "/api/v1/admin/sale-rules/*", json={"monthly_limit": 5}, headers=bearer(admin_token())
        )
        assert put.status_code == 200, put.get_json()
        app_ctx.extensions.pop("flashsale.rules", None)
    won = claim(sale, winner, key="the-only-ticket")
    assert won.status_code == 201
    # The first loser finds the pool empty in Redis and takes the snapshot of winners.
    assert claim(sale, others[0][1]).get_json()["code"] == "sold_out"
    assert get_engine().cache.is_sold_out(str(sale))
    claim(sale, others[1][1])  # warm: the snapshot, the rules' cache
    for _, token in others[2:]:
        before = commands()
        resp = claim(sale, token)
        assert (resp.status_code, resp.get_json()["code"]) == (409, "sold_out")
        assert commands() - before == 1, "a Redis call for a member who holds no ticket"
    before = commands()
    again = claim(sale, winner, key="the-only-ticket")
    assert again.status_code == 201 and again.get_json() == won.get_json()
    assert commands() - before > 1  # the winner's own request id is looked up


def test_every_refusal_tells_the_member_why_in_words(app_ctx, client, claim):
    """Apps act on ``code``; the ``detail`` is what a member reads when the app shows it. Each
    refusal of the claim path says its own reason (and counts its own outcome)."""
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    ((_, inactive),) = make_members(1, start=10, active=False)
    ((_, elsewhere),) = make_members(1, start=20, region="110101")
    sold = create_sale(client, owner, total_stock=1)
    assert claim(sold, token).status_code == 201
    roomy = create_sale(client, owner, total_stock=5)
    assert claim(roomy, token).status_code == 201
    live = create_sale(client, owner, regions=["310101"])
    withdrawn = create_sale(client, owner)
    cancel = client.post(f"/api/v1/merchant/campaigns/{withdrawn}/cancel", headers=bearer(owner))
    assert cancel.status_code == 200, cancel.get_json()
    lottery = lottery_sale(client, owner)
    cases = [
        (9999, token, 404, "not_found", "No such flash sale.", "unknown"),
        (live, inactive, 403, "card_inactive", "Activate your union card to take part.",
         "card_inactive"),
        (live, elsewhere, 403, "not_eligible", "This sale is for members of other regions.",
         "not_eligible"),
        (withdrawn, token, 410, "ended", "This sale has been withdrawn.", "ended"),
        (sold, other, 409, "sold_out", "All tickets have been claimed.", "sold_out"),
        (lottery, token, 409, "lottery_sale", "This sale is a lottery: register.", "lottery"),
        (roomy, token, 409, "limit_reached",
         "You already hold as many tickets of this sale as allowed.", "limit_reached"),
    ]  # fmt: skip
    for sale, who, status, code, detail, outcome in cases:
        before = counted(outcome)
        resp = claim(sale, who)
        body = resp.get_json()
        assert (resp.status_code, body["code"], body["detail"]) == (status, code, detail), body
        assert counted(outcome) == before + 1, outcome
    assert claim(roomy, token).get_json()["per_member_limit"] == 1
