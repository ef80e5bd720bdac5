"""Conversations: a member asks their branch; only that member and the admins of the branch
(and above) can read it; replies, assignment, saved replies, closing; photos checked by their
bytes; members rate-limited (429), also when their messages race."""

from __future__ import annotations

import io
import threading

import pytest

from marketplace.extensions import db
from messaging.models import Conversation, ConversationMessage
from tests.members.helpers import bearer
from tests.orgs.helpers import branch_admin, build_tree, city_admin

MINE = "/api/v1/messages/conversations"
STAFF = "/api/v1/admin/conversations"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def world(client, app_ctx):
    w = build_tree(client)
    w["city"] = city_admin(client)
    w["adm_a"] = branch_admin(client, "admin-a", w["orgs"]["A"])
    w["adm_a2"] = branch_admin(client, "admin-a2", w["orgs"]["A"])
    w["adm_b"] = branch_admin(client, "admin-b", w["orgs"]["B"])
    w["adm_d1"] = branch_admin(client, "admin-d1", w["orgs"]["d1"])
    return w


def ask(client, token, body="请问工会卡怎么激活？", **kw):
    return client.post(MINE, headers=bearer(token), json={"body": body}, **kw)


def account_id(username):
    from marketplace.auth.models import Account

    return db.session.scalar(db.select(Account.id).where(Account.username == username))


def test_only_the_member_and_their_branch_admins_can_read_it(client, world):
    t = world["tokens"]
    resp = ask(client, t[1])
    assert resp.status_code == 201, resp.get_json()
    conv = resp.get_json()
    assert conv["org_id"] == world["orgs"]["A"] and conv["messages"][0]["author_kind"] == "member"
    cid = conv["id"]
    for token in (world["adm_a"], world["adm_d1"], world["city"]):
        assert client.get(f"{STAFF}/{cid}", headers=bearer(token)).status_code == 200
    for token in (world["adm_b"],):
        resp = client.get(f"{STAFF}/{cid}", headers=bearer(token))
        assert (resp.status_code, resp.get_json()["code"]) == (404, "not_found")
        assert client.get(STAFF, headers=bearer(token)).get_json()["items"] == []
        assert client.post(f"{STAFF}/{cid}/replies", headers=bearer(token),
                           json={"body": "x"}).status_code == 404  # fmt: skip
        assert client.post(f"{STAFF}/{cid}/close", headers=bearer(token)).status_code == 404
    # another member: not in their list, cannot open or write to it
    assert client.get(MINE, headers=bearer(t[2])).get_json()["items"] == []
    assert client.get(f"{MINE}/{cid}", headers=bearer(t[2])).status_code == 404
    resp = client.post(f"{MINE}/{cid}/messages", headers=bearer(t[2]), json={"body": "hi"})
    assert resp.status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(ConversationMessage)) == 1


def test_reply_unread_waiting_assign_close_reopen(client, world):
    t = world["tokens"]
    cid = ask(client, t[1]).get_json()["id"]
    inbox = client.get(STAFF, headers=bearer(world["adm_a"])).get_json()["items"]
    assert [(c["id"], c["staff_unread"]) for c in inbox] == [(cid, 1)]
    assert inbox[0]["waiting_since"] is not None
    client.get(f"{STAFF}/{cid}", headers=bearer(world["adm_a"]))  # opened: seen
    assert client.get(STAFF, headers=bearer(world["adm_a"])).json["items"][0]["staff_unread"] == 0
    reply = client.post(f"{STAFF}/{cid}/replies", headers=bearer(world["adm_a"]),
                        json={"body": "<b>请</b>到服务中心"})  # fmt: skip
    assert reply.status_code == 201 and reply.get_json()["author_kind"] == "staff"
    listed = client.get(MINE, headers=bearer(t[1])).get_json()["items"][0]
    assert listed["member_unread"] == 1 and listed["waiting_since"] is None
    unread = client.get("/api/v1/messages/unread", headers=bearer(t[1]))
    assert unread.status_code == 200
    detail = client.get(f"{MINE}/{cid}", headers=bearer(t[1])).get_json()
    assert [m["body"] for m in detail["messages"]][-1] == "<b>请</b>到服务中心"  # text, as sent
    assert client.get(MINE, headers=bearer(t[1])).get_json()["items"][0]["member_unread"] == 0
    # assign: a colleague who can see it (same branch, the district above), never branch B's
    for who, status in (("admin-a2", 200), ("admin-d1", 200), ("admin-b", 422)):
        resp = client.post(f"{STAFF}/{cid}/assign", headers=bearer(world["adm_a"]),
                           json={"account_id": account_id(who)})  # fmt: skip
        assert resp.status_code == status, (who, resp.get_json())
    member_account = account_id(
        db.session.scalar(db.select(db.text("username FROM accounts WHERE role='member'")))
    )
    resp = client.post(f"{STAFF}/{cid}/assign", headers=bearer(world["adm_a"]),
                       json={"account_id": member_account})  # fmt: skip
    assert resp.get_json()["code"] == "bad_assignee"
    mine = client.get(STAFF + "?mine=true", headers=bearer(world["adm_d1"])).get_json()["items"]
    assert [c["id"] for c in mine] == [cid]
    closed = client.post(f"{STAFF}/{cid}/close", headers=bearer(world["adm_d1"]))
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    again = client.post(f"{STAFF}/{cid}/close", headers=bearer(world["adm_a"]))
    assert (again.status_code, again.get_json()["code"]) == (409, "already_closed")
    assert client.get(STAFF, headers=bearer(world["adm_a"])).get_json()["items"] == []
    client.post(f"{MINE}/{cid}/messages", headers=bearer(t[1]), json={"body": "还有一个问题"})
    assert db.session.get(Conversation, cid).status == "open"


def test_saved_replies_follow_the_tree(client, world):
    t = world["tokens"]
    cid = ask(client, t[1]).get_json()["id"]
    d1 = client.post(
        "/api/v1/admin/saved-replies",
        headers=bearer(world["adm_d1"]),
        json={"title": "服务时间", "body": "周一至周五 9:00-17:00"},
    ).get_json()
    b = client.post(
        "/api/v1/admin/saved-replies",
        headers=bearer(world["adm_b"]),
        json={"title": "B", "body": "B only"},
    ).get_json()
    titles = [
        r["title"]
        for r in client.get("/api/v1/admin/saved-replies", headers=bearer(world["adm_a"])).json
    ]
    assert titles == ["服务时间"]  # the district's, not branch B's
    used = client.post(f"{STAFF}/{cid}/replies", headers=bearer(world["adm_a"]),
                       json={"saved_reply_id": d1["id"]})  # fmt: skip
    assert used.get_json()["body"] == "周一至周五 9:00-17:00"
    other = client.post(f"{STAFF}/{cid}/replies", headers=bearer(world["adm_a"]),
                        json={"saved_reply_id": b["id"]})  # fmt: skip
    assert other.status_code == 404
    # a branch admin cannot delete the district's reply; the district admin can
    assert client.delete(f"/api/v1/admin/saved-replies/{d1['id']}",
                         headers=bearer(world["adm_a"])).status_code == 404  # fmt: skip
    assert client.delete(f"/api/v1/admin/saved-replies/{d1['id']}",
                         headers=bearer(world["adm_d1"])).status_code == 204  # fmt: skip


def test_photos_are_checked_and_private(client, world):
    t = world["tokens"]

    def send(photos, body="看图"):
        files = [(io.BytesIO(p), f"p{i}.png") for i, p in enumerate(photos)]
        return client.post(MINE, headers=bearer(t[1]), data={"body": body, "photos": files},
                           content_type="multipart/form-data")  # fmt: skip

    fake = send([b"<html><script>alert(1)</script>"])
    assert (fake.status_code, fake.get_json()["code"]) == (415, "unsupported_image")
    big = send([PNG + b"\0" * (1024 * 1024)])
    assert (big.status_code, big.get_json()["code"]) == (413, "image_too_large")
    many = send([PNG] * 4)
    assert many.status_code == 413
    ok = send([PNG])
    assert ok.status_code == 201, ok.get_json()
    pid = ok.get_json()["messages"][0]["photo_ids"][0]
    got = client.get(f"/api/v1/messages/photos/{pid}", headers=bearer(t[1]))
    assert got.status_code == 200 and got.data == PNG and got.mimetype == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/api/v1/messages/photos/{pid}", headers=bearer(t[2])).status_code == 404
    staff = "/api/v1/admin/conversation-photos/"
    assert client.get(f"{staff}{pid}", headers=bearer(world["adm_a"])).status_code == 200
    assert client.get(f"{staff}{pid}", headers=bearer(world["adm_b"])).status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Conversation)) == 1


def test_bad_text_is_refused_not_500(client, world):
    t = world["tokens"]
    for body in ("", "   ", "x" * 2001):
        resp = ask(client, t[1], body)
        assert (resp.status_code, resp.get_json()["code"]) == (422, "validation_error"), body
    assert client.post(MINE, headers=bearer(t[1]), json=[1]).status_code == 422
    assert client.post(MINE, headers=bearer(t[1]), json={"body": 5}).status_code == 422


def test_members_are_rate_limited(client, world):
    t = world["tokens"]
    cid = ask(client, t[1]).get_json()["id"]
    codes = [client.post(f"{MINE}/{cid}/messages", headers=bearer(t[1]),
                         json={"body": f"消息 {i}"}).status_code for i in range(6)]  # fmt: skip
    assert codes == [201, 201, 201, 201, 429, 429]  # 5 a minute, the opening included
    resp = client.post(f"{MINE}/{cid}/messages", headers=bearer(t[1]), json={"body": "再来"})
    assert resp.get_json()["code"] == "rate_limited" and int(resp.headers["Retry-After"]) >= 1
    # another member has their own budget
    assert ask(client, t[2]).status_code == 201


def test_racing_messages_stay_within_the_limit(app, client, world):
    """Twelve threads send at once: exactly the budget gets through, every other one is a 429,
    and the database holds exactly the accepted messages."""
    t = world["tokens"]
    cid = ask(client, t[1]).get_json()["id"]
    statuses, start = [], threading.Barrier(12)

    def send(i):
        c = app.test_client()
        start.wait()
        with app.app_context():
            r = c.post(f"{MINE}/{cid}/messages", headers=bearer(t[1]), json={"body": f"并发 {i}"})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(statuses) == [201] * 4 + [429] * 8, statuses
    db.session.expire_all()
    count = db.session.scalar(db.select(db.func.count()).where(
        ConversationMessage.conversation_id == cid))  # fmt: skip
    assert count == 5
    assert db.session.get(Conversation, cid).staff_unread == 5


def test_a_frozen_members_conversations_stay_readable_to_the_branch(client, world):
    from marketplace.members import services
    from tests.members.helpers import details

    cid = ask(client, world["tokens"][1]).get_json()["id"]
    services.freeze_card(details(1)["card_no"], actor=None)
    assert client.get(f"{STAFF}/{cid}", headers=bearer(world["adm_a"])).status_code == 200
    assert [c["id"] for c in client.get(STAFF, headers=bearer(world["adm_a"])).json["items"]] == [
        cid
    ]
    # the member's tokens are revoked by the freeze
    assert client.get(MINE, headers=bearer(world["tokens"][1])).status_code == 401


ENDPOINTS = [
    ("get", MINE, "conversation.own", None),
    ("post", MINE, "conversation.own", {"body": "问题"}),
    ("get", MINE + "/{c}", "conversation.own", None),
    ("post", MINE + "/{c}/messages", "conversation.own", {"body": "再问"}),
    ("get", "/api/v1/messages/photos/{p}", "conversation.own", None),
    ("get", STAFF, "conversation.handle", None),
    ("get", STAFF + "/{c}", "conversation.handle", None),
    ("post", STAFF + "/{c}/replies", "conversation.handle", {"body": "答复"}),
    ("post", STAFF + "/{c}/assign", "conversation.handle", {"account_id": None}),
    ("post", STAFF + "/{c}/close", "conversation.handle", None),
    ("get", "/api/v1/admin/conversation-photos/{p}", "conversation.handle", None),
    ("get", "/api/v1/admin/saved-replies", "conversation.handle", None),
    ("post", "/api/v1/admin/saved-replies", "conversation.handle", {"title": "t", "body": "b"}),
    ("delete", "/api/v1/admin/saved-replies/{s}", "conversation.handle", None),
]
ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,action,body", ENDPOINTS)
def test_authorization_matrix(client, world, role, method, url, action, body):
    from marketplace import permissions
    from tests.flashsale.factories import make_merchant

    made = client.post(MINE, headers=bearer(world["tokens"][1]),
                       data={"body": "图", "photos": [(io.BytesIO(PNG), "p.png")]},
                       content_type="multipart/form-data").get_json()  # fmt: skip
    saved = client.post("/api/v1/admin/saved-replies", headers=bearer(world["adm_a"]),
                        json={"title": "s", "body": "b"}).get_json()  # fmt: skip
    ids = {"c": made["id"], "p": made["messages"][0]["photo_ids"][0], "s": saved["id"]}
    tokens = {"member": world["tokens"][1], "merchant_owner": make_merchant()[1],
              "admin": world["city"], "branch_admin": world["adm_a"]}  # fmt: skip
    headers = bearer(tokens[role]) if role != "anon" else {}
    resp = getattr(client, method)(url.format(**ids), headers=headers, json=body)
    if role == "anon":
        assert resp.status_code == 401
    elif permissions.allows(role, action):
        assert resp.status_code not in (401, 403, 404), (role, resp.get_data(as_text=True)[:300])
    else:
        assert (resp.status_code, resp.get_json()["code"]) == (403, "forbidden"), role
