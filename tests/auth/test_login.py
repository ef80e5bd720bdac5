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


def login(client, username, password, address="127.0.0.1"):
    return client.post(
        URL,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_logins_block_that_address_but_not_the_member(client, app_ctx):
    d, _ = activated_member(client, 1)
    attacker, member = "203.0.113.9", "198.51.100.7"
    for _ in range(10):
        assert login(client, d["card_no"], "bad-pass", attacker).status_code == 401
    for password in ("bad-pass", PASSWORD):  # the attacker's address is now refused
        blocked = login(client, d["card_no"], password, attacker)
        assert blocked.status_code == 429
        assert blocked.mimetype == "application/problem+json"
        assert blocked.get_json()["code"] == "rate_limited"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 15 * 60 + 1
    # the member, from their own address, logs in at once (twice: no slow-down below the ceiling)
    assert login(client, d["card_no"], PASSWORD, member).status_code == 200
    assert login(client, d["card_no"], PASSWORD, member).status_code == 200
    assert login(client, d["card_no"], "bad-pass", attacker).status_code == 429


def test_failures_from_many_addresses_only_slow_the_account_down(client, app_ctx):
    app_ctx.config["LOGIN_ACCOUNT_LIMIT"] = "20/15minutes"
    d, _ = activated_member(client, 1)
    for n in range(20):  # a spread-out attack reaches the account-wide ceiling
        assert login(client, d["card_no"], "bad-pass", f"10.0.0.{n}").status_code == 401
    fresh = "10.0.1.1"  # from now on every address gets one try per minute for this account
    assert login(client, d["card_no"], "bad-pass", fresh).status_code == 401
    slowed = login(client, d["card_no"], "bad-pass", fresh)
    assert slowed.status_code == 429 and 1 <= int(slowed.headers["Retry-After"]) <= 61
    member = "198.51.100.7"
    assert login(client, d["card_no"], PASSWORD, member).status_code == 200  # never locked out
    again = login(client, d["card_no"], PASSWORD, member)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) <= 61
    other, _ = activated_member(client, 2)  # other accounts are not slowed down
    assert login(client, other["card_no"], PASSWORD, fresh).status_code == 200


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
