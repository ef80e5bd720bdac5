"""Apply -> review -> approve / reject -> suspend -> reinstate, through the JSON API only."""

import itertools

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.merchants import Merchant
from marketplace.models import AuditEvent
from tests.flashsale.factories import create_sale, sale_body

from .conftest import bearer

_keys = itertools.count()

APPLICATION = {
    "business_name": "星光影城",
    "licence_no": "91310101MA1FPX1234",
    "category": "cinema",
    "region": "310101",
    "address": "南京东路 1 号",
    "contact_name": "王经理",
    "contact_phone": "13800001111",
    "owner_username": "starlight",
    "owner_password": "starlight-pass",
}


def apply(client, **overrides):
    return client.post("/api/v1/merchant-applications", json=APPLICATION | overrides)


def login(client, username, password):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def claim(client, sale, token):
    return client.post(
        f"/api/v1/flashsales/{sale}/claims",
        headers={**bearer(token), "Idempotency-Key": f"claim-{next(_keys):06d}"},
    )


def redeem(client, code, token):
    return client.post(
        "/api/v1/merchant/redemptions",
        json={"code": code},
        headers={**bearer(token), "Idempotency-Key": f"redeem-{next(_keys):06d}"},
    )


def test_application_waits_for_approval_then_the_owner_can_log_in(client, admin):
    _, admin_token = admin
    resp = apply(client)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["status"] == "pending" and "owner_password" not in body
    assert login(client, "starlight", "starlight-pass").status_code == 401

    queue = client.get("/api/v1/admin/merchant-applications", headers=bearer(admin_token))
    assert [m["business_name"] for m in queue.get_json()["items"]] == ["星光影城"]
    resp = client.post(
        f"/api/v1/admin/merchant-applications/{body['id']}/approve", headers=bearer(admin_token)
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "approved"
    assert login(client, "starlight", "starlight-pass").status_code == 200
    queue = client.get("/api/v1/admin/merchant-applications", headers=bearer(admin_token))
    assert queue.get_json()["total"] == 0
    # approving twice is a conflict, not a silent success
    again = client.post(
        f"/api/v1/admin/merchant-applications/{body['id']}/approve", headers=bearer(admin_token)
    )
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_transition"


def test_application_validation_and_duplicates(client, app_ctx):
    resp = apply(client, licence_no="x", region="31", contact_phone="call me", owner_password="s")
    assert resp.status_code == 422
    assert {"licence_no", "region", "contact_phone", "owner_password"} <= set(
        resp.get_json()["errors"]
    )
    assert apply(client, category="casino").status_code == 422
    assert apply(client).status_code == 201
    taken = apply(client, licence_no="91310101MA1FPX9999")
    assert taken.status_code == 409 and taken.get_json()["code"] == "username_taken"
    same_licence = apply(client, owner_username="other-owner")
    assert same_licence.status_code == 409 and same_licence.get_json()["code"] == "licence_taken"


def test_reject_needs_a_reason_and_keeps_the_login_disabled(client, admin):
    _, admin_token = admin
    merchant_id = apply(client).get_json()["id"]
    url = f"/api/v1/admin/merchant-applications/{merchant_id}/reject"
    assert client.post(url, json={}, headers=bearer(admin_token)).status_code == 422
    resp = client.post(url, json={"reason": "营业执照模糊"}, headers=bearer(admin_token))
    assert resp.status_code == 200
    assert resp.get_json() | {} and resp.get_json()["status_reason"] == "营业执照模糊"
    assert login(client, "starlight", "starlight-pass").status_code == 401


def test_suspension_stops_claims_and_publishing_and_voucher_validity_is_the_admins_choice(
    client, admin, shop, member, drain
):
    _, admin_token = admin
    merchant_id, owner, clerk = shop
    _, member_token = member
    sale = create_sale(client, owner, total_stock=5)
    draft = create_sale(client, owner, publish=False)
    code = claim(client, sale, member_token).get_json()["voucher"]["code"]
    drain()

    resp = client.post(
        f"/api/v1/admin/merchants/{merchant_id}/suspend",
        json={"reason": "投诉核实中", "vouchers_valid": False},
        headers=bearer(admin_token),
    )
    assert resp.status_code == 200
    assert resp.get_json()["vouchers_valid_when_suspended"] is False
    app_ctx_meta_cache_clear()
    refused = claim(client, sale, make_second_member())
    assert refused.status_code == 410 and refused.get_json()["code"] == "ended"
    publish = client.post(f"/api/v1/merchant/campaigns/{draft}/publish", headers=bearer(owner))
    assert publish.status_code == 403 and publish.get_json()["code"] == "merchant_suspended"
    patched = client.patch(
        f"/api/v1/merchant/campaigns/{sale}", json={"total_stock": 500}, headers=bearer(owner)
    )
    assert patched.status_code == 403 and patched.get_json()["code"] == "merchant_suspended"
    created = client.post("/api/v1/merchant/campaigns", json=sale_body(), headers=bearer(owner))
    assert created.status_code == 403 and created.get_json()["code"] == "merchant_suspended"
    top_up = client.post(
        f"/api/v1/merchant/campaigns/{sale}/top-up", json={"add": 5}, headers=bearer(owner)
    )
    assert top_up.status_code == 403 and top_up.get_json()["code"] == "merchant_suspended"
    blocked = redeem(client, code, clerk)
    assert blocked.status_code == 409 and blocked.get_json()["code"] == "merchant_suspended"

    reinstate = client.post(
        f"/api/v1/admin/merchants/{merchant_id}/reinstate", headers=bearer(admin_token)
    )
    assert reinstate.status_code == 200
    app_ctx_meta_cache_clear()
    assert claim(client, sale, make_second_member()).status_code == 201

    client.post(
        f"/api/v1/admin/merchants/{merchant_id}/suspend",
        json={"reason": "再次核实", "vouchers_valid": True},
        headers=bearer(admin_token),
    )
    assert redeem(client, code, clerk).status_code == 200

    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject_type == "merchant", AuditEvent.merchant_id == merchant_id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["merchant.suspend", "merchant.reinstate", "merchant.suspend"]
    assert db.session.get(Merchant, merchant_id).status == "suspended"


def test_every_transition_is_audited_with_its_actor(client, admin):
    account, admin_token = admin
    merchant_id = apply(client).get_json()["id"]
    client.post(
        f"/api/v1/admin/merchant-applications/{merchant_id}/approve", headers=bearer(admin_token)
    )
    events = client.get(
        f"/api/v1/admin/audit-events?merchant_id={merchant_id}", headers=bearer(admin_token)
    ).get_json()["items"]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("merchant.approve", "root"),
        ("merchant.apply", None),
    ]


_members = itertools.count(100)


def make_second_member() -> str:
    from tests.flashsale.factories import make_members

    return make_members(1, start=next(_members))[0][1]


def app_ctx_meta_cache_clear():
    """Skip the 1 s per-process metadata cache (other processes see the change within it)."""
    from flask import current_app

    current_app.extensions.get("flashsale.meta", {}).clear()
