"""Password reset through the union: an admin of the member's subtree issues a one-time code, the
member sets a new password with card number + code. Who may issue, single use, expiry, hashing,
tries, limits, audit, and the two pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.auth.models import Account, PasswordResetCode
from marketplace.extensions import db
from marketplace.models import AuditEvent, utcnow
from tests.members.helpers import PASSWORD as OLD_PASSWORD
from tests.members.helpers import details
from tests.merchant_portal.conftest import csrf_of, fresh_g
from tests.orgs.helpers import branch_admin, build_tree, city_admin, login

NEW_PASSWORD = "brand-new-pass-1"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(client, app_ctx):
    w = build_tree(client, activate=(1, 2))  # member 3 never activated
    w["branch_a"] = branch_admin(client, "admin-a", w["orgs"]["A"])
    w["district_1"] = branch_admin(client, "admin-d1", w["orgs"]["d1"])
    w["city"] = city_admin(client)
    return w


def issue(client, token, member_id):
    return client.post(f"/api/v1/admin/members/{member_id}/reset-codes", headers=bearer(token))


def reset(client, n, code, password=NEW_PASSWORD, ip="10.0.0.1"):
    body = {"card_no": details(n)["card_no"], "code": code, "new_password": password}
    return client.post("/api/v1/auth/password-reset", json=body,
                       environ_base={"REMOTE_ADDR": ip})  # fmt: skip


def test_who_may_issue_a_code(client, world):
    from tests.flashsale.factories import make_merchant

    _, owner = make_merchant()
    m = world["members"]
    assert client.post(f"/api/v1/admin/members/{m[1]}/reset-codes").status_code == 401
    assert issue(client, world["tokens"][1], m[1]).status_code == 403  # a member
    assert issue(client, owner, m[1]).status_code == 403  # a merchant
    # A branch admin: its own branch's member only; another branch's answers 404.
    ok = issue(client, world["branch_a"], m[1])
    assert ok.status_code == 201 and re.fullmatch(r"\d{8}", ok.get_json()["code"])
    other = issue(client, world["branch_a"], m[2])
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"
    assert issue(client, world["branch_a"], 999999).status_code == 404
    # A district admin covers both branches of its district; the city admin everyone.
    assert issue(client, world["district_1"], m[2]).status_code == 201
    not_active = issue(client, world["city"], m[3])
    assert not_active.status_code == 409 and not_active.get_json()["code"] == "not_activated"
    assert not_active.headers["Content-Type"].startswith("application/problem+json")


def test_code_is_stored_hashed_audited_and_works_once(client, world):
    m = world["members"]
    code = issue(client, world["branch_a"], m[1]).get_json()["code"]
    row = db.session.scalars(select(PasswordResetCode)).one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.reset_code_issued")
    ).one()
    assert event.subject_id == str(m[1]) and event.actor_role == "branch_admin"
    assert code not in str(event.data)

    wrong = reset(client, 1, "00000000" if code != "00000000" else "11111111")
    assert wrong.status_code == 400 and wrong.get_json()["code"] == "invalid_reset_code"
    assert reset(client, 1, code).status_code == 204
    # The new password works, the old does not, and older tokens are revoked.
    assert login(client, details(1)["card_no"], NEW_PASSWORD)
    old_login = {"username": details(1)["card_no"], "password": OLD_PASSWORD}
    old = client.post("/api/v1/auth/token", json=old_login)
    assert old.status_code == 401
    assert client.get("/api/v1/me", headers=bearer(world["tokens"][1])).status_code == 401
    again = reset(client, 1, code, password="another-pass-2")
    assert again.status_code == 400 and again.get_json()["code"] == "invalid_reset_code"
    assert db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "account.password_reset")
    )


def test_expired_superseded_and_guessed_codes_die(client, world, app):
    m = world["members"]
    first = issue(client, world["city"], m[1]).get_json()["code"]
    second = issue(client, world["city"], m[1]).get_json()["code"]
    if first != second:
        assert reset(client, 1, first).status_code == 400  # retired by the newer one
    db.session.execute(update(PasswordResetCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert reset(client, 1, second).status_code == 400  # expired
    # Five wrong tries (from five addresses, under the per-pair limit) kill a code.
    third = issue(client, world["city"], m[1]).get_json()["code"]
    wrong = "12345678" if third != "12345678" else "87654321"
    for i in range(5):
        assert reset(client, 1, wrong, ip=f"10.0.1.{i}").status_code == 400
    assert reset(client, 1, third, ip="10.0.2.1").status_code == 400
    assert login(client, details(1)["card_no"], OLD_PASSWORD)  # nothing changed


def test_tries_are_rate_limited_and_weak_passwords_refused(client, world):
    m = world["members"]
    code = issue(client, world["city"], m[2]).get_json()["code"]
    weak = reset(client, 2, code, password="short")
    assert weak.status_code == 422 and weak.get_json()["code"] == "validation_error"
    assert "new_password" in weak.get_json()["errors"]  # the documented length, stated
    for _ in range(5):  # unknown card: refused the same way, and counted
        resp = client.post("/api/v1/auth/password-reset",
                           json={"card_no": "6222999999999999", "code": "1", "new_password":
                                 NEW_PASSWORD})  # fmt: skip
        assert resp.status_code == 400 and resp.get_json()["code"] == "invalid_reset_code"
    limited = client.post("/api/v1/auth/password-reset",
                          json={"card_no": "6222999999999999", "code": "1",
                                "new_password": NEW_PASSWORD})  # fmt: skip
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert reset(client, 2, code).status_code == 204  # the weak try did not spend the code


def test_pages_admin_issues_member_resets(client, world):
    m = world["members"]
    # The branch admin finds the member and issues the code on the console.
    account = db.session.scalar(select(Account).where(Account.username == "admin-a"))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    fresh_g()
    search = csrf_of(client.get("/admin/members/search").get_data(as_text=True))
    found = client.post("/admin/members/search",
                        data={"csrf_token": search, "q": details(1)["card_no"]})  # fmt: skip
    html = found.get_data(as_text=True)
    assert f'data-testid="reset-code-{m[1]}"' in html
    token = csrf_of(html)
    other = client.post(f"/admin/members/{m[2]}/reset-code", data={"csrf_token": token})
    assert other.status_code == 404  # another branch's member
    page = client.post(f"/admin/members/{m[1]}/reset-code", data={"csrf_token": token})
    assert page.status_code == 200
    code = re.search(r'data-testid="reset-code">(\d{8})<', page.get_data(as_text=True)).group(1)
    # The member, logged out, uses the forgotten-password page.
    with client.session_transaction() as sess:
        sess.clear()
    fresh_g()
    form = client.get("/m/forgot").get_data(as_text=True)
    body = {"csrf_token": csrf_of(form), "card_no": details(1)["card_no"], "code": code,
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}  # fmt: skip
    done = client.post("/m/forgot", data=body)
    assert done.status_code == 302 and done.headers["Location"].endswith("/m/login")
    fresh_g()
    again = client.post("/m/forgot", data=body)
    assert again.status_code == 400 and 'class="flash flash-error"' in again.get_data(as_text=True)
    assert login(client, details(1)["card_no"], NEW_PASSWORD)
