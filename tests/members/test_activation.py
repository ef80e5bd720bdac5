"""POST /api/v1/members/activate: generic failures, lockout, already active, hostile input."""

import pytest

from marketplace.extensions import db
from marketplace.members.models import Member
from tests.members.helpers import PASSWORD, activation_body, bearer, details, register

URL = "/api/v1/members/activate"


def test_activation_opens_an_account_and_returns_a_token(client, app_ctx):
    register(1)
    resp = client.post(URL, json=activation_body(1))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer" and body["role"] == "member"
    assert body["username"] == details(1)["card_no"]
    me = client.get("/api/v1/me", headers=bearer(body["access_token"])).get_json()
    assert me["card"]["status"] == "active" and me["card"]["activated_at"]
    login = client.post(
        "/api/v1/auth/token", json={"username": details(1)["card_no"], "password": PASSWORD}
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    "override",
    [
        {"name": "别人"},
        {"phone": "13911112222"},
        {"id_number": "11010519491231002X"},  # valid ID of someone else
        {"id_number": "110105194912310021"},  # invalid checksum
        {"card_no": "4111111111111111"},  # unknown card
        {"card_no": "4111111111111112"},  # bad Luhn
    ],
)
def test_wrong_details_get_one_generic_answer(client, app_ctx, override):
    register(1)
    resp = client.post(URL, json=activation_body(1) | override)
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["code"] == "activation_failed"
    assert body["detail"] == "The card details do not match our records."
    assert "errors" not in body  # never says which field was wrong


def test_repeated_failures_block_that_address_not_the_card(client, app_ctx):
    register(1)
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(5):
        resp = client.post(URL, json=activation_body(1, name="错"), environ_base=attacker)
        assert resp.status_code == 422
    locked = client.post(URL, json=activation_body(1), environ_base=attacker)
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "rate_limited"
    assert 1 <= int(locked.headers["Retry-After"]) <= 15 * 60 + 1
    other = register(2)  # other cards are not affected
    assert (
        other
        and client.post(URL, json=activation_body(2), environ_base=attacker).status_code == 200
    )
    # the holder, from their own address, activates their card
    member = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.post(URL, json=activation_body(1), environ_base=member).status_code == 200


def test_failures_from_many_addresses_slow_the_card_down(client, app_ctx):
    app_ctx.config["ACTIVATION_CARD_LIMIT"] = "10/15minutes"
    register(1)
    for n in range(10):
        resp = client.post(
            URL, json=activation_body(1, name="错"), environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}
        )
        assert resp.status_code == 422
    member = {"REMOTE_ADDR": "198.51.100.7"}
    slow = client.post(URL, json=activation_body(1, phone="13000000000"), environ_base=member)
    assert slow.status_code == 422  # a typo: one try per minute now
    retry = client.post(URL, json=activation_body(1), environ_base=member)
    assert retry.status_code == 429 and int(retry.headers["Retry-After"]) <= 61
    later = {"REMOTE_ADDR": "198.51.100.8"}  # e.g. a minute later, or on the phone's network
    assert client.post(URL, json=activation_body(1), environ_base=later).status_code == 200


def test_active_card_gets_409(client, app_ctx):
    register(1)
    assert client.post(URL, json=activation_body(1)).status_code == 200
    again = client.post(URL, json=activation_body(1, password="another-pass"))
    assert again.status_code == 409
    assert again.get_json()["code"] == "already_active"


def test_frozen_card_cannot_be_activated(client, app_ctx):
    member = register(1)
    member.cards[0].status = "frozen"
    db.session.commit()
    assert client.post(URL, json=activation_body(1)).get_json()["code"] == "activation_failed"


def test_short_password_is_a_validation_error(client, app_ctx):
    register(1)
    resp = client.post(URL, json=activation_body(1, password="short"))
    assert resp.status_code == 422
    assert resp.get_json()["code"] == "validation_error"
    assert "password" in resp.get_json()["errors"]


def test_missing_fields_are_422(client):
    resp = client.post(URL, json={"card_no": "1"})
    assert resp.status_code == 422
    assert {"name", "id_number", "phone", "password"} <= set(resp.get_json()["errors"])


@pytest.mark.parametrize("field", ["card_no", "name", "id_number", "phone", "password"])
def test_10kb_strings_are_refused_with_422(client, app_ctx, field):
    resp = client.post(URL, json=activation_body(1) | {field: "字" * 10_000})
    assert resp.status_code == 422
    assert resp.get_json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "value", ["Robert'); DROP TABLE members;--", "' OR '1'='1", "😀😀", "\x00", "<script>"]
)
def test_hostile_strings_are_plain_failures(client, app_ctx, value):
    register(1)
    for field in ("card_no", "name", "id_number", "phone"):
        resp = client.post(URL, json=activation_body(1) | {field: value})
        assert resp.status_code == 422, (field, resp.get_json())
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 1


def test_chinese_and_emoji_names_round_trip(client, app_ctx):
    register(1, name="欧阳娜娜😀")
    resp = client.post(URL, json=activation_body(1, name="欧阳娜娜😀"))
    assert resp.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(resp.get_json()["access_token"])).get_json()
    assert me["member"]["name"] == "欧阳娜娜😀"
