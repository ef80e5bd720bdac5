"""The member API end to end on the test client: claims, refusals, vouchers, cancel."""

from datetime import timedelta

from sqlalchemy import func, select

from flashsale.hotpath import get_engine
from flashsale.models import Voucher
from marketplace.extensions import db
from marketplace.models import utcnow

from .factories import bearer, create_sale, make_members, make_merchant


def test_claim_then_repeat_then_limit(app_ctx, client, claim, drain):
    _, owner = make_merchant()
    ((member_id, token),) = make_members(1)
    sale = create_sale(client, owner)
    first = claim(sale, token, key="same-key-1")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    code = body["voucher"]["code"]
    assert len(code) == 16 and body["voucher"]["status"] == "issued"
    assert body["voucher"]["campaign_id"] == sale and body["claim_id"].startswith(f"{sale}-")
    again = claim(sale, token, key="same-key-1")
    assert again.status_code == 201 and again.get_json() == body
    refused = claim(sale, token)
    assert refused.status_code == 409 and refused.get_json()["code"] == "limit_reached"
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert get_engine().stats(str(sale)).claimed == 1
    drain()
    assert db.session.scalar(select(func.count()).select_from(Voucher)) == 1
    mine = client.get("/api/v1/me/vouchers", headers=bearer(token)).get_json()
    assert [v["code"] for v in mine["items"]] == [code] and mine["items"][0]["status"] == "issued"


def test_refusal_codes(app_ctx, client, claim):
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    ((_, inactive),) = make_members(1, start=10, active=False)
    ((_, elsewhere),) = make_members(1, start=20, region="110101")
    now = utcnow()
    sold = create_sale(client, owner, total_stock=1)
    assert claim(sold, token).status_code == 201
    r = claim(sold, other)
    assert (r.status_code, r.get_json()["code"]) == (409, "sold_out")

    later = create_sale(
        client,
        owner,
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
    )
    r = claim(later, token)
    assert (r.status_code, r.get_json()["code"]) == (409, "not_started")
    assert r.get_json()["starts_at"].startswith(str((now + timedelta(hours=1)).year))

    # The end is taken from the clock right before this sale is made (not from `now` above, which
    # several calls ago could already be in the past), and the claim waits until it has passed.
    ends_at = utcnow() + timedelta(seconds=5)  # create + publish took 1.5 s+ on a loaded CI
    ending = create_sale(client, owner, ends_at=ends_at.isoformat())
    import time

    time.sleep(max(0.0, (ends_at - utcnow()).total_seconds()) + 0.1)
    r = claim(ending, token)
    assert (r.status_code, r.get_json()["code"]) == (410, "ended")

    live = create_sale(client, owner, regions=["310101"])
    r = claim(live, inactive)
    assert (r.status_code, r.get_json()["code"]) == (403, "card_inactive")
    r = claim(live, elsewhere)
    assert (r.status_code, r.get_json()["code"]) == (403, "not_eligible")
    r = claim(9999, token)
    assert (r.status_code, r.get_json()["code"]) == (404, "not_found")
    draft = create_sale(client, owner, publish=False)
    assert claim(draft, token).status_code == 404
    r = client.post(f"/api/v1/flashsales/{live}/claims", headers={"Idempotency-Key": "abcdefgh"})
    assert (r.status_code, r.get_json()["code"]) == (401, "unauthorized")
    r = client.post(f"/api/v1/flashsales/{live}/claims", headers=bearer(token))
    assert (r.status_code, r.get_json()["code"]) == (400, "idempotency_key_required")
    r = claim(live, token, key="bad key with spaces")
    assert (r.status_code, r.get_json()["code"]) == (400, "idempotency_key_invalid")
    r = claim(live, owner)
    assert (r.status_code, r.get_json()["code"]) == (403, "forbidden")


def test_cancelled_sale_is_ended(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    assert (
        client.post(f"/api/v1/merchant/campaigns/{sale}/cancel", headers=bearer(owner)).get_json()[
            "status"
        ]
        == "cancelled"
    )
    r = claim(sale, token)
    assert (r.status_code, r.get_json()["code"]) == (410, "ended")


def test_rate_limit(app, app_ctx, client, claim):
    # 3 at once, then one every 20 s: six requests fit in the window even on a loaded machine.
    app.config.update(FLASHSALE_CLAIM_RATE=0.05, FLASHSALE_CLAIM_BURST=3)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, per_member_limit=1)
    codes = [claim(sale, token).status_code for _ in range(5)]
    assert codes[:3] == [201, 409, 409] and codes[3:] == [429, 429]
    r = claim(sale, token)
    assert r.get_json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1


def test_cancel_returns_stock_once(app_ctx, client, claim, drain):
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    sale = create_sale(client, owner, total_stock=1, per_member_limit=1)
    code = claim(sale, token).get_json()["voucher"]["code"]
    assert claim(sale, other).get_json()["code"] == "sold_out"
    drain()
    results = [
        client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(token)) for _ in range(3)
    ]
    assert {r.status_code for r in results} == {200}
    assert results[0].get_json()["status"] == "cancelled"
    stats = get_engine().stats(str(sale))
    assert (stats.remaining, stats.claimed) == (1, 0)
    get_engine().cache.clear(str(sale))  # other processes' caches expire within their TTL
    assert claim(sale, other).status_code == 201
    assert claim(sale, token).get_json()["code"] == "sold_out"
    drain()
    statuses = dict(db.session.execute(select(Voucher.code, Voucher.status)).all())
    assert statuses[code] == "cancelled" and sorted(statuses.values()) == ["cancelled", "issued"]


def test_cancel_after_deadline_and_other_members_voucher(app_ctx, client, claim, drain):
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    sale = create_sale(client, owner, cancel_deadline=(utcnow() - timedelta(seconds=1)).isoformat())
    code = claim(sale, token).get_json()["voucher"]["code"]
    drain()
    r = client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(token))
    assert (r.status_code, r.get_json()["code"]) == (410, "cancel_deadline_passed")
    assert client.get(f"/api/v1/me/vouchers/{code}", headers=bearer(token)).status_code == 200
    for path in (f"/api/v1/me/vouchers/{code}", f"/api/v1/me/vouchers/{code}/cancel"):
        method = client.get if path.endswith(code) else client.post
        assert method(path, headers=bearer(other)).status_code == 404
    assert client.get("/api/v1/me/vouchers", headers=bearer(other)).get_json()["total"] == 0


def test_sale_list_and_detail(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    live = create_sale(client, owner, total_stock=5)
    create_sale(client, owner, publish=False)
    claim(live, token)
    body = client.get("/api/v1/flashsales", headers=bearer(token)).get_json()
    assert [s["id"] for s in body["items"]] == [live] and "server_time" in body
    assert body["items"][0]["remaining"] == 4 and body["items"][0]["status"] == "live"
    one = client.get(f"/api/v1/flashsales/{live}", headers=bearer(token)).get_json()
    assert one["title"] == "免费电影票" and one["starts_at"].endswith("+00:00")
    assert client.get("/api/v1/flashsales/999", headers=bearer(token)).status_code == 404


def test_repeat_of_the_last_ticket_after_sell_out(app_ctx, client, claim):
    """The sold-out fast path must not turn a winner's retry into a refusal."""
    _, owner = make_merchant()
    (_, token), (_, other) = make_members(2)
    sale = create_sale(client, owner, total_stock=1)
    first = claim(sale, token, key="the-last-one")
    assert claim(sale, other).get_json()["code"] == "sold_out"
    assert get_engine().cache.is_sold_out(str(sale))
    again = claim(sale, token, key="the-last-one")
    assert again.status_code == 201 and again.get_json() == first.get_json()


def test_the_201_is_the_document_the_schema_describes(app_ctx, client, claim):
    """The claim route serialises its 201 directly: it must be exactly ClaimSchema's dump."""
    from flashsale.schemas import ClaimSchema, ClaimVoucherSchema

    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5)
    resp = claim(sale, token)
    assert resp.status_code == 201 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body == ClaimSchema().dump(body)
    assert set(body) == set(ClaimSchema().fields)
    assert set(body["voucher"]) == set(ClaimVoucherSchema().fields)
    assert body["voucher"]["campaign_id"] == sale and body["voucher"]["status"] == "issued"
