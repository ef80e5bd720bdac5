"""Conversation pages: who gets which page (the permission table), a branch admin of another
branch gets 404, page forms refuse non-images (415) and members writing too fast (429)."""

from __future__ import annotations

import io

import pytest

from marketplace import permissions
from marketplace.auth.models import Account
from marketplace.extensions import db
from messaging import conversations as convs
from tests.merchant_portal.conftest import csrf_of, fresh_g
from tests.orgs.helpers import PASSWORD, build_tree

ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PAGES = [
    ("GET", "/m/messages", None, "message.read", 200),
    ("GET", "/m/messages/c/new", None, "conversation.own", 200),
    ("POST", "/m/messages/c/new", {"body": "新问题"}, "conversation.own", 302),
    ("GET", "/m/messages/c/{c}", None, "conversation.own", 200),
    ("POST", "/m/messages/c/{c}", {"body": "追问"}, "conversation.own", 302),
    ("GET", "/m/messages/photos/{p}", None, "conversation.own", 200),
    ("GET", "/admin/conversations", None, "conversation.handle", 200),
    ("GET", "/admin/conversations/{c}", None, "conversation.handle", 200),
    ("POST", "/admin/conversations/{c}/reply", {"body": "答"}, "conversation.handle", 302),
    ("POST", "/admin/conversations/{c}/assign", {"account_id": ""}, "conversation.handle", 302),
    ("GET", "/admin/conversations/photos/{p}", None, "conversation.handle", 200),
    ("GET", "/admin/conversations/saved-replies", None, "conversation.handle", 200),
    ("POST", "/admin/conversations/saved-replies", {"title": "t", "body": "b"},
     "conversation.handle", 302),
    ("POST", "/admin/conversations/saved-replies/{s}/delete", {}, "conversation.handle", 302),
    ("POST", "/admin/conversations/{c}/close", {}, "conversation.handle", 302),
]  # fmt: skip


class P:
    def __init__(self, account_id, role, member_id=None):
        self.account_id, self.role, self.member_id = account_id, role, member_id


@pytest.fixture
def world(client, app_ctx):
    from marketplace.auth.services import create_account
    from tests.flashsale.factories import make_merchant

    w = build_tree(client)
    make_merchant()
    create_account("root", PASSWORD, "admin")
    ba = create_account("admin-a", PASSWORD, "branch_admin", org_id=w["orgs"]["A"])
    create_account("admin-b", PASSWORD, "branch_admin", org_id=w["orgs"]["B"])
    member = db.session.scalar(db.select(Account).where(Account.member_id == w["members"][1]))
    owner = db.session.scalar(db.select(Account.username).where(Account.role == "merchant_owner"))
    w["accounts"] = {"member": member.username, "merchant_owner": owner, "admin": "root",
                     "branch_admin": "admin-a"}  # fmt: skip
    conv = convs.open_conversation(P(member.id, "member", w["members"][1]), "问题", [PNG])
    msg = convs.messages(conv)[0]
    w["ids"] = {"c": conv.id, "p": convs.photos_of([msg.id])[msg.id][0],
                "s": convs.add_saved_reply(P(ba.id, "branch_admin"), "s", "b").id}  # fmt: skip
    return w


def session_for(client, world, role) -> str:
    if role != "anon":
        account = db.session.scalar(
            db.select(Account).where(Account.username == world["accounts"][role])
        )
        with client.session_transaction() as sess:
            sess["_user_id"] = f"{account.id}:{account.token_version}"
            sess["_fresh"] = True
    fresh_g()
    return csrf_of(client.get("/admin/login").get_data(as_text=True))


@pytest.mark.parametrize("role", ROLES)
def test_pages_matrix(client, world, role):
    token = session_for(client, world, role)
    wrong = []
    for method, url, data, action, ok in PAGES:
        url = url.format(**world["ids"])
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


def test_other_branch_admin_and_other_member_get_404(client, world):
    world["accounts"]["branch_admin"] = "admin-b"
    session_for(client, world, "branch_admin")
    for url in ("/admin/conversations/{c}", "/admin/conversations/photos/{p}"):
        fresh_g()
        assert client.get(url.format(**world["ids"])).status_code == 404, url
    world["accounts"]["member"] = db.session.scalar(
        db.select(Account.username).where(Account.member_id == world["members"][2])
    )
    session_for(client, world, "member")
    for url in ("/m/messages/c/{c}", "/m/messages/photos/{p}"):
        fresh_g()
        assert client.get(url.format(**world["ids"])).status_code == 404, url


def test_page_forms_refuse_non_images_and_fast_senders(client, world):
    token = session_for(client, world, "member")
    url = f"/m/messages/c/{world['ids']['c']}"
    fresh_g()
    resp = client.post(url, data={"csrf_token": token, "body": "看",
                                  "photos": [(io.BytesIO(b"MZ\x90\x00exe"), "a.png")]},
                       content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 415
    statuses = []
    for i in range(5):
        fresh_g()
        statuses.append(client.post(url, data={"csrf_token": token, "body": f"{i}"}).status_code)
    assert statuses == [302, 302, 302, 302, 429]  # 5 a minute, the opening included


def test_out_of_range_ids_in_forms_are_refused_not_500(client, world):
    token = session_for(client, world, "branch_admin")
    c = world["ids"]["c"]
    for url, data in ((f"/admin/conversations/{c}/assign", {"account_id": str(2**70)}),
                      (f"/admin/conversations/{c}/reply", {"saved_reply_id": str(2**70)}),
                      ("/admin/announcements/new", {"title": "t", "body": "b",
                                                    "audience": f"org:{2**70}"}),
                      ("/admin/announcements/new", {"title": "t", "body": "b", "link_kind": "sale",
                                                    "link_id": str(2**70)})):  # fmt: skip
        fresh_g()
        resp = client.post(url, data={"csrf_token": token, **data})
        assert resp.status_code in (302, 422), (url, resp.status_code)


def test_api_upload_text_is_checked(client, world):
    from tests.members.helpers import bearer

    member = db.session.scalar(db.select(Account).where(Account.member_id == world["members"][1]))
    from tests.flashsale.factories import token_for

    resp = client.post("/api/v1/messages/conversations", headers=bearer(token_for(member)),
                       data={"body": "bad \x00 text", "photos": [(io.BytesIO(PNG), "p.png")]},
                       content_type="multipart/form-data")  # fmt: skip
    assert (resp.status_code, resp.get_json()["code"]) == (422, "validation_error")


NO_BADGE = 'data-testid="tab-messages-badge" hidden><'  # there for badge.js, hidden at 0


def test_a_reply_shows_on_the_badge_at_once_despite_the_cache(client, world):
    session_for(client, world, "member")
    fresh_g()
    assert NO_BADGE in client.get("/m/card").get_data(as_text=True)  # cached: 0
    ba = db.session.scalar(db.select(Account).where(Account.username == "admin-a"))
    convs.reply(P(ba.id, "branch_admin"), world["ids"]["c"], "已收到")
    fresh_g()
    html = client.get("/m/card").get_data(as_text=True)
    assert 'data-testid="tab-messages-badge">1<' in html
    fresh_g()
    client.get(f"/m/messages/c/{world['ids']['c']}")  # seen
    fresh_g()
    assert NO_BADGE in client.get("/m/card").get_data(as_text=True)
