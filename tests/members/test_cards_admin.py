"""Admins freeze and reissue cards; the member keeps their account and everything keyed to it."""

from marketplace.auth import verify_token
from marketplace.auth.models import Account
from marketplace.extensions import db
from marketplace.members.models import Card, Member
from tests.members.helpers import (
    PASSWORD,
    activated_member,
    activation_body,
    admin_token,
    bearer,
    details,
)


def test_freeze_revokes_tokens_and_new_logins_are_not_card_active(client, app_ctx):
    d, token = activated_member(client, 1)
    admin = admin_token(client)
    resp = client.post(f"/api/v1/admin/cards/{d['card_no']}/freeze", headers=bearer(admin))
    assert resp.status_code == 200 and resp.get_json()["status"] == "frozen"
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["code"] == "token_revoked"
    login = client.post("/api/v1/auth/token", json={"username": d["card_no"], "password": PASSWORD})
    assert verify_token(login.get_json()["access_token"]).card_active is False


def test_freeze_unknown_card_is_404(client, app_ctx):
    admin = admin_token(client)
    resp = client.post("/api/v1/admin/cards/4111111111111111/freeze", headers=bearer(admin))
    assert resp.status_code == 404


def test_reissue_moves_the_member_to_a_new_card(client, app_ctx):
    d, token = activated_member(client, 1)
    account_id = verify_token(token).account_id
    member_id = verify_token(token).member_id
    admin = admin_token(client)
    new_no = details(50)["card_no"]
    resp = client.post(
        f"/api/v1/admin/members/{member_id}/reissue",
        headers=bearer(admin),
        json={"new_card_no": new_no},
    )
    assert resp.status_code == 201 and resp.get_json()["status"] == "issued"
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    statuses = {c.card_no: c.status for c in db.session.scalars(db.select(Card))}
    assert statuses == {d["card_no"]: "frozen", new_no: "issued"}
    # The old card number no longer logs in; the holder activates the new card.
    old = client.post("/api/v1/auth/token", json={"username": d["card_no"], "password": PASSWORD})
    assert old.status_code == 401
    act = client.post(
        "/api/v1/members/activate",
        json=activation_body(1, password="after-reissue", card_no=new_no),
    )
    assert act.status_code == 200
    assert act.get_json()["account_id"] == account_id  # same account, same member
    me = client.get("/api/v1/me", headers=bearer(act.get_json()["access_token"])).get_json()
    assert me["card"]["card_no"] == new_no and me["card"]["status"] == "active"
    assert me["member"]["id"] == member_id
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Account)) == 2  # + admin
    detail = client.get(f"/api/v1/admin/members/{member_id}", headers=bearer(admin)).get_json()
    assert [c["status"] for c in detail["cards"]] == ["frozen", "active"]


def test_reissue_refuses_bad_or_taken_numbers(client, app_ctx):
    d, token = activated_member(client, 1)
    activated_member(client, 2)
    admin = admin_token(client)
    member_id = verify_token(token).member_id
    url = f"/api/v1/admin/members/{member_id}/reissue"
    bad = client.post(url, headers=bearer(admin), json={"new_card_no": "4111111111111112"})
    assert bad.status_code == 422
    taken = client.post(url, headers=bearer(admin), json={"new_card_no": details(2)["card_no"]})
    assert taken.status_code == 409 and taken.get_json()["code"] == "duplicate_card"
    missing = client.post(
        "/api/v1/admin/members/999/reissue",
        headers=bearer(admin),
        json={"new_card_no": details(3)["card_no"]},
    )
    assert missing.status_code == 404
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200  # nothing changed


def test_admin_reads_a_member_with_masked_id(client, app_ctx):
    d, token = activated_member(client, 1)
    admin = admin_token(client)
    body = client.get(
        f"/api/v1/admin/members/{verify_token(token).member_id}", headers=bearer(admin)
    ).get_json()
    assert body["id_number_masked"].endswith(d["id_number"][-4:])
    assert d["id_number"] not in str(body)
