"""Refresh tokens: a phone renews its access token without a password, each refresh token works
once, a replayed one revokes the whole sign-in, and logout, password change and card freeze end
it."""

from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event

from marketplace.auth import refresh as refresh_tokens
from marketplace.auth.models import Account
from marketplace.auth.passwords import hash_password, needs_rehash
from marketplace.extensions import db, get_redis
from tests.members.helpers import (
    PASSWORD,
    activated_member,
    activation_body,
    admin_token,
    bearer,
    details,
    register,
)


def login(client, n: int = 1, password: str = PASSWORD) -> dict:
    resp = client.post(
        "/api/v1/auth/token", json={"username": details(n)["card_no"], "password": password}
    )
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def renew(client, token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def me(client, access: str) -> int:
    return client.get("/api/v1/me", headers=bearer(access)).status_code


@pytest.fixture
def member(client, app_ctx):
    activated_member(client, 1)
    return login(client)


def test_activation_signs_the_phone_in_with_a_refresh_token(client, app_ctx):
    register(2)
    body = client.post("/api/v1/members/activate", json=activation_body(2)).get_json()
    assert me(client, body["access_token"]) == 200
    renewed = renew(client, body["refresh_token"])
    assert renewed.status_code == 200 and me(client, renewed.get_json()["access_token"]) == 200


def test_login_returns_a_refresh_token_that_renews_without_a_password(client, member):
    assert member["refresh_expires_in"] == 30 * 24 * 3600
    resp = renew(client, member["refresh_token"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["role"] == "member" and body["token_type"] == "Bearer"
    assert body["refresh_token"] != member["refresh_token"]
    assert me(client, body["access_token"]) == 200
    # The renewed access token carries the same principal as a password login.
    mine = client.get("/api/v1/me", headers=bearer(body["access_token"])).get_json()
    assert mine["username"] == details(1)["card_no"] and mine["role"] == "member"
    # Rotation goes on: the new refresh token renews again.
    assert renew(client, body["refresh_token"]).status_code == 200


def test_a_renewal_costs_no_sql_and_no_password_hash(client, member, app_ctx):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        started = time.process_time()
        token = member["refresh_token"]
        for _ in range(20):
            resp = renew(client, token)
            assert resp.status_code == 200
            token = resp.get_json()["refresh_token"]
        cpu = (time.process_time() - started) / 20
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []
    # One argon2 check at these parameters costs ~20 ms here; a renewal must cost far less.
    assert cpu < 0.015, f"{cpu * 1000:.1f} ms of CPU per renewal"


def test_a_reused_refresh_token_revokes_the_whole_sign_in(client, member):
    first = member["refresh_token"]
    second = renew(client, first).get_json()["refresh_token"]
    replay = renew(client, first)  # a copied token, presented after its owner spent it
    assert replay.status_code == 401
    assert replay.get_json()["code"] == "refresh_token_reused"
    assert replay.headers["Content-Type"] == "application/problem+json"
    # The owner's newer token is revoked too: whoever holds what, this sign-in is over.
    after = renew(client, second)
    assert after.status_code == 401 and after.get_json()["code"] == "token_revoked"
    # Other sign-ins of the same member are untouched.
    other = login(client)
    assert renew(client, other["refresh_token"]).status_code == 200


def test_concurrent_renewals_of_one_token_yield_at_most_one_successor(app, member):
    token = member["refresh_token"]
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def race():
        with app.test_client() as c:
            barrier.wait()
            statuses.append(renew(c, token).status_code)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200] + [401] * 7


@pytest.mark.parametrize("how", ["logout", "password", "freeze"])
def test_logout_password_change_and_card_freeze_revoke_refresh_tokens(client, member, how):
    if how == "logout":
        assert (
            client.post("/api/v1/auth/logout", headers=bearer(member["access_token"])).status_code
            == 204
        )
    elif how == "password":
        resp = client.post(
            "/api/v1/auth/password",
            headers=bearer(member["access_token"]),
            json={"current_password": PASSWORD, "new_password": "another-pass-2"},
        )
        assert resp.status_code == 200
        # The response starts a new sign-in whose refresh token works.
        assert renew(client, resp.get_json()["refresh_token"]).status_code == 200
    else:
        admin = admin_token(client)
        card = details(1)["card_no"]
        assert (
            client.post(f"/api/v1/admin/cards/{card}/freeze", headers=bearer(admin)).status_code
            == 200
        )
    resp = renew(client, member["refresh_token"])
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "token_revoked"


def test_expired_tampered_and_access_tokens_are_refused(client, member, app):
    app.config["REFRESH_TOKEN_TTL_SECONDS"] = -1
    try:
        expired = login(client)["refresh_token"]
    finally:
        app.config["REFRESH_TOKEN_TTL_SECONDS"] = 30 * 24 * 3600
    assert renew(client, expired).get_json()["code"] == "refresh_token_expired"
    token = member["refresh_token"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, member["access_token"], "x" * 100):
        resp = renew(client, bad)
        assert resp.status_code == 401 and resp.get_json()["code"] == "unauthorized", bad
    assert client.post("/api/v1/auth/refresh", json={}).status_code == 422
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 3000}).status_code == 422
    )


def test_a_family_lost_with_redis_is_recreated_and_still_catches_a_replay(client, member, app):
    first = member["refresh_token"]
    second = renew(client, first).get_json()["refresh_token"]
    r = get_redis()
    keys = list(r.scan_iter(match=app.config["REDIS_NAMESPACE"] + ":auth:rf:*"))
    assert len(keys) == 2  # the fixture's sign-ins: activation, then a login
    for key in keys:
        r.delete(key)
    # The owner is not sent back to the login page...
    third = renew(client, second)
    assert third.status_code == 200
    # ...and a copy of a spent token that comes back later is still caught.
    assert renew(client, first).get_json()["code"] == "refresh_token_reused"
    assert renew(client, third.get_json()["refresh_token"]).status_code == 401


def test_passwords_use_owasp_parameters_and_old_hashes_are_rehashed_at_login(client, app_ctx):
    activated_member(client, 1)
    account = db.session.execute(db.select(Account).where(Account.role == "member")).scalar_one()
    params = account.password_hash.split("$")[3]
    assert params == "m=19456,t=2,p=1", params
    # A hash made with argon2-cffi's old defaults (64 MiB, t=3, p=4) is replaced at next login.
    account.password_hash = PasswordHasher().hash(PASSWORD)
    db.session.commit()
    assert needs_rehash(account.password_hash)
    login(client)
    db.session.refresh(account)
    assert not needs_rehash(account.password_hash)
    assert account.password_hash.split("$")[3] == "m=19456,t=2,p=1"
    assert hash_password("x" * 8).startswith("$argon2id$")


def test_refresh_family_key_names_only_the_family(app_ctx):
    assert refresh_tokens.family_key("abc").endswith(":auth:rf:abc")
