"""Merchant API: campaigns, redemption, revert, isolation between merchants, authorization."""

from datetime import timedelta

import pytest

from flashsale.models import Redemption
from marketplace import permissions
from marketplace.extensions import db
from marketplace.models import utcnow
from tests.authz import ROLE_OF, outcome

from .factories import bearer, create_sale, make_members, make_merchant, sale_body, token_for


def redeem(client, token, code, key="redeem-key-1"):
    return client.post(
        "/api/v1/merchant/redemptions",
        json={"code": code},
        headers={**bearer(token), "Idempotency-Key": key},
    )


@pytest.fixture
def claimed(app_ctx, client, claim, drain):
    """A merchant (owner, clerk), a second merchant, a member holding one drained voucher."""
    merchant, owner, clerk = make_merchant(clerk="clerk1")
    _, other_owner = make_merchant("别家", username="owner2")
    ((_, member),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5)
    code = claim(sale, member).get_json()["voucher"]["code"]
    drain()
    return {
        "owner": owner,
        "clerk": clerk,
        "other": other_owner,
        "member": member,
        "sale": sale,
        "code": code,
    }


def test_campaign_lifecycle_and_stats(app_ctx, client, claimed):
    owner, sale = claimed["owner"], claimed["sale"]
    body = client.get(f"/api/v1/merchant/campaigns/{sale}", headers=bearer(owner)).get_json()
    assert body["status"] == "live"
    assert body["stats"] == {
        "stock": 5,
        "remaining": 4,
        "claimed": 1,
        "persisted": 1,
        "redeemed": 0,
        "cancelled": 0,
    }
    listed = client.get("/api/v1/merchant/campaigns", headers=bearer(owner)).get_json()
    assert [c["id"] for c in listed["items"]] == [sale]
    r = client.patch(
        f"/api/v1/merchant/campaigns/{sale}", json={"title": "x"}, headers=bearer(owner)
    )
    assert (r.status_code, r.get_json()["code"]) == (409, "not_editable")
    r = client.patch(
        f"/api/v1/merchant/campaigns/{sale}", json={"total_stock": 3}, headers=bearer(owner)
    )
    assert (r.status_code, r.get_json()["code"]) == (409, "stock_decrease")
    r = client.patch(
        f"/api/v1/merchant/campaigns/{sale}", json={"total_stock": 8}, headers=bearer(owner)
    )
    assert r.status_code == 200 and r.get_json()["stats"]["remaining"] == 7
    r = client.post(f"/api/v1/merchant/campaigns/{sale}/publish", headers=bearer(owner))
    assert (r.status_code, r.get_json()["code"]) == (409, "already_published")


def test_scheduled_patch_and_validation(app_ctx, client):
    _, owner = make_merchant()
    now = utcnow()
    later = create_sale(
        client,
        owner,
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
    )
    r = client.patch(
        f"/api/v1/merchant/campaigns/{later}",
        json={"per_member_limit": 2, "title": "新标题"},
        headers=bearer(owner),
    )
    assert r.status_code == 200 and r.get_json()["status"] == "scheduled"
    from flashsale.hotpath import get_engine

    assert get_engine().stats(str(later)).per_member_limit == 2
    bad = [
        {"total_stock": -1},
        {"total_stock": "many"},
        {"category": "spaceship"},
        {"starts_at": "2030-01-01T00:00:00"},
        {"regions": ["12"]},
        {"title": ""},
        {"ends_at": (now - timedelta(days=1)).isoformat()},
    ]
    for patch in bad:
        r = client.post(
            "/api/v1/merchant/campaigns", json=sale_body(**patch), headers=bearer(owner)
        )
        assert r.status_code == 422, (patch, r.get_json())
        assert r.get_json()["code"] == "validation_error"
    r = client.post(
        "/api/v1/merchant/campaigns",
        data="{not json",
        headers={**bearer(owner), "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_redeem_revert_and_refusals(app_ctx, client, claimed):
    clerk, owner, code = claimed["clerk"], claimed["owner"], claimed["code"]
    r = redeem(client, clerk, code.lower())
    assert r.status_code == 200 and r.get_json()["voucher"]["status"] == "redeemed"
    redemption_id = r.get_json()["id"]
    assert redeem(client, clerk, code).get_json()["id"] == redemption_id  # same key: same answer
    again = redeem(client, owner, code, key="another-key")
    body = again.get_json()
    assert (again.status_code, body["code"]) == (409, "already_redeemed")
    assert body["redeemed_by"]["username"] == "clerk1" and body["redeemed_at"]
    r = client.post(f"/api/v1/merchant/redemptions/{redemption_id}/revert", headers=bearer(owner))
    assert r.status_code == 200 and r.get_json()["voucher"]["status"] == "issued"
    assert redeem(client, owner, code, key="third-key").status_code == 200
    old = db.session.get(Redemption, redemption_id)
    assert old.reverted_at is not None
    newest = db.session.query(Redemption).order_by(Redemption.id.desc()).first()
    newest.redeemed_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    r = client.post(f"/api/v1/merchant/redemptions/{newest.id}/revert", headers=bearer(owner))
    assert (r.status_code, r.get_json()["code"]) == (409, "revert_window_passed")
    r = redeem(client, clerk, "ZZZZZZZZZZZZZZZZ", key="unknown-code")
    assert r.status_code == 404
    r = client.post("/api/v1/merchant/redemptions", json={"code": code}, headers=bearer(clerk))
    assert (r.status_code, r.get_json()["code"]) == (400, "idempotency_key_required")
    r = client.post(
        "/api/v1/merchant/redemptions",
        json={},
        headers={**bearer(clerk), "Idempotency-Key": "abcdefgh"},
    )
    assert r.status_code == 422


def test_cancelled_and_expired_vouchers(app_ctx, client, claimed):
    code, member, clerk = claimed["code"], claimed["member"], claimed["clerk"]
    assert (
        client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(member)).status_code == 200
    )
    r = redeem(client, clerk, code)
    assert (r.status_code, r.get_json()["code"]) == (409, "voucher_cancelled")
    from flashsale.models import Voucher

    voucher = db.session.query(Voucher).filter_by(code=code).one()
    voucher.status, voucher.valid_until = "issued", utcnow() - timedelta(seconds=1)
    db.session.commit()
    r = redeem(client, clerk, code, key="expired-key")
    assert (r.status_code, r.get_json()["code"]) == (410, "voucher_expired")
    mine = client.get("/api/v1/me/vouchers", headers=bearer(member)).get_json()
    assert mine["items"][0]["status"] == "expired"


def test_other_merchant_sees_nothing(app_ctx, client, claimed):
    other, sale, code = claimed["other"], claimed["sale"], claimed["code"]
    assert redeem(client, other, code).status_code == 404
    assert client.get(f"/api/v1/merchant/vouchers/{code}", headers=bearer(other)).status_code == 404
    assert (
        client.get(
            f"/api/v1/merchant/vouchers/{code}", headers=bearer(claimed["clerk"])
        ).status_code
        == 200
    )
    for method, path, action in [
        ("get", f"/api/v1/merchant/campaigns/{sale}", "sale.view"),
        ("patch", f"/api/v1/merchant/campaigns/{sale}", "sale.edit"),
        ("post", f"/api/v1/merchant/campaigns/{sale}/publish", "sale.publish"),
        ("post", f"/api/v1/merchant/campaigns/{sale}/cancel", "sale.cancel"),
    ]:
        r = getattr(client, method)(path, json={}, headers=bearer(other))
        assert r.status_code == outcome(action, "other", target="theirs") == 404, (method, path)
    assert client.get("/api/v1/merchant/campaigns", headers=bearer(other)).get_json()["total"] == 0


ENDPOINTS = [
    # (method, path, action of the permission table)
    ("get", "/api/v1/flashsales", "sale.browse"),
    ("get", "/api/v1/flashsales/{sale}", "sale.browse"),
    ("post", "/api/v1/flashsales/{sale}/claims", "claim.create"),
    ("get", "/api/v1/me/vouchers", "voucher.own"),
    ("get", "/api/v1/me/vouchers/{code}", "voucher.own"),
    ("post", "/api/v1/me/vouchers/{code}/cancel", "voucher.own"),
    ("get", "/api/v1/merchant/campaigns", "sale.view"),
    ("post", "/api/v1/merchant/campaigns", "sale.create"),
    ("get", "/api/v1/merchant/campaigns/{sale}", "sale.view"),
    ("patch", "/api/v1/merchant/campaigns/{sale}", "sale.edit"),
    ("post", "/api/v1/merchant/campaigns/{sale}/publish", "sale.publish"),
    ("post", "/api/v1/merchant/campaigns/{sale}/cancel", "sale.cancel"),
    ("get", "/api/v1/merchant/vouchers/{code}", "voucher.redeem"),
    ("post", "/api/v1/merchant/redemptions", "voucher.redeem"),
    ("post", "/api/v1/merchant/redemptions/1/revert", "redemption.revert"),
    ("get", "/api/v1/me/sale-limits", "voucher.own"),
    ("get", "/api/v1/admin/sale-rules", "sale.rules"),
    ("put", "/api/v1/admin/sale-rules/movie", "sale.rules"),
    ("delete", "/api/v1/admin/sale-rules/movie", "sale.rules"),
    ("get", "/api/v1/admin/no-show-bans", "sale.rules"),
    ("post", "/api/v1/admin/no-show-bans/1/lift", "sale.rules"),
    ("get", "/api/v1/flashsales/{sale}/fairness", "sale.browse"),
    ("post", "/api/v1/admin/sales/{sale}/fairness", "sale.fairness"),
]


def admin_token() -> str:
    from marketplace.auth.services import create_account

    return token_for(create_account("boss", "admin-pass-1", "admin"))


def test_authorization_on_every_endpoint(app_ctx, client, claimed):
    """Every role on every endpoint: refused with 403 unless allowed, and let through if allowed
    (whatever the endpoint then answers to an empty body, it is not 401 or 403)."""
    tokens = {"member": claimed["member"], "owner": claimed["owner"], "clerk": claimed["clerk"],
              "admin": admin_token()}  # fmt: skip
    for method, template, action in ENDPOINTS:
        allowed = {persona for persona in tokens if permissions.allows(ROLE_OF[persona], action)}
        path = template.format(sale=claimed["sale"], code=claimed["code"])
        call = getattr(client, method)
        assert call(path, json={}).status_code == 401, path
        bad = call(path, json={}, headers={"Authorization": "Bearer forged.token"})
        assert bad.status_code == 401, path
        for role, token in tokens.items():
            r = call(path, json={}, headers={**bearer(token), "Idempotency-Key": "k" * 10})
            if role in allowed:
                assert r.status_code not in (401, 403), (path, role, r.get_json())
            else:
                assert (r.status_code, r.get_json()["code"]) == (403, "forbidden"), (path, role)
