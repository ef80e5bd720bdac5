"""POST /api/v1/auth/token: argon2id, generic failures, per-account and per-address limits."""

import pytest

from marketplace.auth.models import Account
from marketplace.auth.services import create_account
from marketplace.extensions import db
from tests.members.helpers import PASSWORD, activated_member, bearer

URL = "/api/v1/auth/token"


def test_login_returns_a_bearer_token(client, app_ctx):
    d, _ = activated_member(client, 1)
    resp = client.post(URL, json={"username": d["card_no"], "password": PASSWORD})
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["token_type"] == "Bearer" and body["role"] == "member"
    assert body["expires_in"] == app_ctx.config["TOKEN_TTL_SECONDS"]
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).status_code == 200
    assert db.session.execute(db.select(Account)).scalar_one().last_login_at is not None


def test_passwords_are_argon2id(client, app_ctx):
    activated_member(client, 1)
    account = db.session.execute(db.select(Account)).scalar_one()
    assert account.password_hash.startswith("$argon2id$")
    assert PASSWORD not in account.password_hash


def test_wrong_password_and_unknown_user_look_the_same(client, app_ctx):
    d, _ = activated_member(client, 1)
    a = client.post(URL, json={"username": d["card_no"], "password": "wrong-password"})
    b = client.post(URL, json={"username": "nobody", "password": "wrong-password"})
    assert a.status_code == b.status_code == 401
    assert a.get_json()["detail"] == b.get_json()["detail"]
    assert a.get_json()["code"] == b.get_json()["code"] == "invalid_credentials"


def test_failed_logins_lock_the_account(client, app_ctx):
    d, _ = activated_member(client, 1)
    for _ in range(10):
        assert (
            client.post(URL, json={"username": d["card_no"], "password": "bad-pass"}).status_code
            == 401
        )
    locked = client.post(URL, json={"username": d["card_no"], "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_attempts_per_client_address_are_limited(client, app_ctx):
    app_ctx.config["LOGIN_IP_LIMIT"] = "5/minute"
    for n in range(5):
        client.post(URL, json={"username": f"user{n}", "password": "whatever-pass"})
    resp = client.post(URL, json={"username": "user99", "password": "whatever-pass"})
    assert resp.status_code == 429 and resp.get_json()["code"] == "rate_limited"
    other = client.post(
        URL,
        json={"username": "user99", "password": "whatever-pass"},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 401


def test_inactive_account_cannot_log_in(client, app_ctx):
    d, _ = activated_member(client, 1)
    db.session.execute(db.update(Account).values(is_active=False))
    db.session.commit()
    assert (
        client.post(URL, json={"username": d["card_no"], "password": PASSWORD}).status_code == 401
    )


@pytest.mark.parametrize("username", ["x" * 10_000, "' OR 1=1 --", "😀", "张三"])
def test_odd_usernames_never_500(client, app_ctx, username):
    resp = client.post(URL, json={"username": username, "password": "whatever-pass"})
    assert resp.status_code in (401, 422)


def test_staff_roles_log_in(client, app_ctx):
    from tests.flashsale.factories import make_merchant

    merchant_id = make_merchant()[0]
    create_account("shop-owner", "owner-pass-1", "merchant_owner", merchant_id=merchant_id)
    body = client.post(URL, json={"username": "shop-owner", "password": "owner-pass-1"}).get_json()
    assert body["role"] == "merchant_owner"
    me = client.get("/api/v1/me", headers=bearer(body["access_token"])).get_json()
    assert me["merchant_id"] == merchant_id and me["member"] is None and me["card"] is None
