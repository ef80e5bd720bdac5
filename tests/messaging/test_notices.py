"""Notices (issue #16 item 5): receipts, reminders, expiry, union services and group-buy results
reach the member's inbox through marketplace.notices; preferences switch kinds off; a notice sent
inside a transaction that rolls back is never delivered; "remind me" schedules one RQ job per sale
and time, which a cancelled sale cancels; every new route in the authorization matrix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from marketplace import notices as shared
from marketplace import permissions
from marketplace.extensions import db, get_queue, get_rq_redis
from marketplace.models import utcnow
from messaging import jobs
from messaging.models import Notice, NoticePreference, Reminder
from tests.flashsale.factories import bearer, create_sale, make_members, make_merchant

NOTICES = "/api/v1/messages/notices"
PREFS = "/api/v1/messages/preferences"


def redeem(client, token, code, key="redeem-key-1"):
    return client.post("/api/v1/merchant/redemptions", json={"code": code},
                       headers={**bearer(token), "Idempotency-Key": key})  # fmt: skip


@pytest.fixture
def shop(app_ctx, client, claim, drain):
    """A merchant (owner, clerk) and a member holding one drained voucher of a live sale."""
    _merchant, owner, clerk = make_merchant(clerk="clerk1")
    ((member_id, member),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5, title="<script>alert(1)</script>电影票")
    code = claim(sale, member).get_json()["voucher"]["code"]
    drain()
    return {"owner": owner, "clerk": clerk, "member": member, "member_id": member_id,
            "sale": sale, "code": code}  # fmt: skip


def notices_of(client, token):
    resp = client.get(NOTICES, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def test_a_redemption_sends_one_receipt(client, shop):
    assert notices_of(client, shop["member"]) == []
    assert redeem(client, shop["clerk"], shop["code"]).status_code == 200
    assert redeem(client, shop["clerk"], shop["code"]).status_code == 200  # same key: replay
    items = notices_of(client, shop["member"])
    assert [n["kind"] for n in items] == ["voucher.redeemed"]
    assert "测试影城" in items[0]["text"] and "<script>" in items[0]["text"]  # plain text
    assert client.get("/api/v1/messages/unread", headers=bearer(shop["member"])).status_code == 200
    marked = client.post(NOTICES + "/read", headers=bearer(shop["member"])).get_json()
    assert marked == {"marked": 1}
    assert notices_of(client, shop["member"])[0]["read_at"] is not None


def test_the_inbox_page_shows_notices_as_inert_text(client, shop):
    from flask_login import login_user  # noqa: F401  (pages log in through the form below)

    from marketplace.auth.models import Account

    redeem(client, shop["clerk"], shop["code"])
    account = db.session.scalar(db.select(Account).where(Account.member_id == shop["member_id"]))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    html = client.get("/m/messages").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;电影票" in html
    assert "<script>alert(1)" not in html
    assert 'data-rt-swap="notices"' in html and 'id="rt"' in html
    # shown once: read now
    assert db.session.scalar(db.select(Notice.read_at)) is not None


def test_preferences_switch_a_kind_off_and_bad_ones_are_422(client, shop):
    token = shop["member"]
    prefs = client.get(PREFS, headers=bearer(token)).get_json()["preferences"]
    assert {p["category"]: (p["inbox"], p["outbound"]) for p in prefs}["receipts"] == (True, False)
    resp = client.put(PREFS, headers=bearer(token),
                      json={"preferences": [{"category": "receipts", "inbox": False}]})  # fmt: skip
    assert resp.status_code == 200
    redeem(client, shop["clerk"], shop["code"])
    assert notices_of(client, token) == []
    for bad in ({"preferences": [{"category": "spam"}]}, {"preferences": "all"}, {},
                {"preferences": [{"category": "receipts", "inbox": "<b>"}]}):  # fmt: skip
        resp = client.put(PREFS, headers=bearer(token), json=bad)
        assert resp.status_code == 422, bad
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert resp.get_json()["code"] == "validation_error"


def test_a_notice_inside_a_rolled_back_transaction_is_never_delivered(app_ctx, shop):
    from flashsale.models import Campaign

    member_id = shop["member_id"]
    campaign = db.session.get(Campaign, shop["sale"])
    campaign.title = "改了"  # the emitter is writing: the notice waits for its commit
    shared.notify(member_id, "application.approved", {"status": "approved"})
    assert db.session.scalar(db.select(db.func.count()).select_from(Notice)) == 0
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(Notice)) == 0

    campaign = db.session.get(Campaign, shop["sale"])
    campaign.title = "又改了"
    shared.notify(member_id, "application.approved", {"status": "approved"})
    db.session.commit()
    assert db.session.scalar(db.select(Notice.kind)) == "application.approved"


def test_union_services_notify_reaches_the_inbox(client, shop):
    from unionservices.notify import notify

    notify(shop["member_id"], "application.approved", {"application_id": 7, "status": "approved"})
    (item,) = notices_of(client, shop["member"])
    assert item["kind"] == "application.approved" and "approved" in item["text"]


def test_expiring_vouchers_are_told_once(app_ctx, client, shop):
    from flashsale.models import Voucher

    voucher = db.session.scalar(db.select(Voucher))
    voucher.valid_until = utcnow() + timedelta(days=2)
    db.session.commit()
    assert jobs.expiring_vouchers() == 1
    assert jobs.expiring_vouchers() == 1  # found again, told once (the notice key)
    kinds = [n["kind"] for n in notices_of(client, shop["member"])]
    assert kinds == ["voucher.expiring"]


# --------------------------------------------------------------------------- reminders


def scheduled_ids() -> list[str]:
    return ScheduledJobRegistry(queue=get_queue("default")).get_job_ids()


def test_remind_me_schedules_one_job_ten_minutes_before_and_tells_once(app_ctx, client):
    _m, owner = make_merchant()
    members = make_members(3)
    now = utcnow()
    sale = create_sale(client, owner, starts_at=(now + timedelta(hours=1)).isoformat(),
                       valid_from=now.isoformat())  # fmt: skip
    url = f"/api/v1/messages/reminders/sale/{sale}"
    for _mid, token in members:
        resp = client.put(url, headers=bearer(token))
        assert resp.status_code == 200, resp.get_json()
    assert client.put(url, headers=bearer(members[0][1])).status_code == 200  # again: same
    (job_id,) = scheduled_ids()  # three members, one job
    job = Job.fetch(job_id, connection=get_rq_redis())
    at = ScheduledJobRegistry(queue=get_queue("default")).get_scheduled_time(job)
    assert abs((at - (now + timedelta(minutes=50))).total_seconds()) < 5
    assert job.func_name == "messaging.jobs.send_reminders"

    # one member changes their mind
    assert client.delete(url, headers=bearer(members[2][1])).status_code == 204
    # run early (a clock skew, a manual run): nothing is told, the job stays scheduled once
    assert jobs.send_reminders("sale", sale) == {"cancelled": 0, "moved": 2}
    assert scheduled_ids() == [job_id]
    db.session.execute(db.update(Reminder).values(remind_at=utcnow()))
    db.session.commit()
    from flashsale.models import Campaign

    db.session.get(Campaign, sale).starts_at = utcnow() + timedelta(minutes=9)
    db.session.commit()
    assert jobs.send_reminders("sale", sale) == {"sent": 2}
    assert jobs.send_reminders("sale", sale) == {"sent": 0}  # ran twice: told once
    for n, (_mid, token) in enumerate(members):
        kinds = [x["kind"] for x in notices_of(client, token)]
        assert kinds == (["sale.reminder"] if n < 2 else []), n


def test_a_cancelled_sale_cancels_its_reminders(app_ctx, client):
    _m, owner = make_merchant()
    ((_mid, member),) = make_members(1)
    now = utcnow()
    sale = create_sale(client, owner, starts_at=(now + timedelta(hours=2)).isoformat(),
                       ends_at=(now + timedelta(hours=3)).isoformat(),
                       cancel_deadline=(now + timedelta(hours=3)).isoformat(),
                       valid_from=now.isoformat())  # fmt: skip
    client.put(f"/api/v1/messages/reminders/sale/{sale}", headers=bearer(member))
    (job_id,) = scheduled_ids()
    resp = client.post(f"/api/v1/merchant/campaigns/{sale}/cancel", headers=bearer(owner))
    assert resp.status_code == 200, resp.get_json()
    assert scheduled_ids() == []
    assert Job.fetch(job_id, connection=get_rq_redis()).get_status() == "canceled"
    assert db.session.scalar(db.select(Reminder.status)) == "cancelled"
    assert jobs.send_reminders("sale", sale) == {"cancelled": 0, "moved": 0}
    assert notices_of(client, member) == []


def test_remind_me_refusals(app_ctx, client):
    _m, owner = make_merchant()
    ((_mid, member),) = make_members(1)
    live = create_sale(client, owner)  # opened a minute ago
    draft = create_sale(client, owner, publish=False,
                        starts_at=(utcnow() + timedelta(hours=1)).isoformat())  # fmt: skip
    cases = [(f"sale/{live}", 409, "already_open"), (f"sale/{draft}", 404, "not_found"),
             ("sale/999999", 404, "not_found"), (f"offer/{live}", 404, "not_found"),
             ("sale/abc", 404, "not_found")]  # fmt: skip
    for path, status, code in cases:
        resp = client.put(f"/api/v1/messages/reminders/{path}", headers=bearer(member))
        assert (resp.status_code, resp.get_json()["code"]) == (status, code), path


# --------------------------------------------------------------------------- authorization

ENDPOINTS = [
    ("get", NOTICES, "notice.own", None),
    ("post", NOTICES + "/read", "notice.own", None),
    ("get", PREFS, "notice.own", None),
    ("put", PREFS, "notice.own", {"preferences": [{"category": "results", "inbox": True}]}),
    ("put", "/api/v1/messages/reminders/sale/{s}", "notice.own", None),
    ("delete", "/api/v1/messages/reminders/sale/{s}", "notice.own", None),
    ("get", "/api/v1/messages/realtime", "message.read", None),
    ("get", "/api/v1/admin/realtime", "conversation.handle", None),
]
ROLES = ("anon", "member", "merchant_owner", "merchant_clerk", "admin", "branch_admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,action,body", ENDPOINTS)
def test_authorization_matrix(client, app_ctx, role, method, url, action, body):
    from tests.orgs.helpers import branch_admin, build_tree, city_admin

    w = build_tree(client)
    _m, owner, clerk = make_merchant(clerk="clerk1")
    sale = create_sale(client, owner, starts_at=(utcnow() + timedelta(hours=1)).isoformat())
    tokens = {
        "member": w["tokens"][1],
        "merchant_owner": owner,
        "merchant_clerk": clerk,
        "admin": city_admin(client),
        "branch_admin": branch_admin(client, "ba", w["orgs"]["A"]),
    }
    headers = bearer(tokens[role]) if role != "anon" else {}
    resp = getattr(client, method)(url.format(s=sale), headers=headers, json=body)
    if role == "anon":
        assert resp.status_code == 401
    elif permissions.allows(role, action):
        assert resp.status_code in (200, 204), (role, resp.get_data(as_text=True)[:300])
    else:
        assert (resp.status_code, resp.get_json()["code"]) == (403, "forbidden"), role


PAGE_ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")


@pytest.mark.parametrize("role", PAGE_ROLES)
def test_pages_matrix(client, app_ctx, role):
    """The new pages: preferences (GET, POST) and the "remind me" form, for every role."""
    from marketplace.auth.models import Account
    from marketplace.auth.services import create_account
    from tests.merchant_portal.conftest import fresh_g
    from tests.messaging.test_conversation_pages import session_for
    from tests.orgs.helpers import PASSWORD, build_tree

    w = build_tree(client)
    _m, owner = make_merchant()
    create_account("root", PASSWORD, "admin")
    create_account("admin-a", PASSWORD, "branch_admin", org_id=w["orgs"]["A"])
    sale = create_sale(client, owner, starts_at=(utcnow() + timedelta(hours=1)).isoformat())
    member = db.session.scalar(db.select(Account).where(Account.member_id == w["members"][1]))
    w["accounts"] = {"member": member.username, "merchant_owner": "owner1", "admin": "root",
                     "branch_admin": "admin-a"}  # fmt: skip
    pages = [
        ("GET", "/m/messages/preferences", None, "notice.own", 200),
        ("POST", "/m/messages/preferences", {"results-inbox": "1"}, "notice.own", 302),
        ("POST", f"/m/messages/remind/sale/{sale}", {}, "notice.own", 302),
        ("POST", f"/m/messages/remind/sale/{sale}", {"action": "off"}, "notice.own", 302),
    ]
    token = session_for(client, w, role)
    wrong = []
    for method, url, data, action, ok in pages:
        fresh_g()
        if method == "GET":
            resp = client.get(url)
        else:
            resp = client.post(url, data={"csrf_token": token, **data})
        got = resp.status_code
        if got == 302 and "/login" in resp.headers["Location"]:
            got = "login"
        want = "login" if role == "anon" else (ok if permissions.allows(role, action) else 403)
        if got != want:
            wrong.append((method, url, got, want))
    assert wrong == []
    if role == "member":  # the member's choices and reminder took effect
        prefs = {p.category: p.inbox for p in db.session.scalars(db.select(NoticePreference))}
        assert prefs["results"] is True and prefs["receipts"] is False
        assert db.session.scalar(db.select(Reminder.status)) == "cancelled"
        fresh_g()
        resp = client.post("/m/messages/remind/offer/1", data={"csrf_token": token})
        assert resp.status_code == 404
