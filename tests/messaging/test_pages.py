"""Messaging pages: who gets which page, the unread badge on member pages, writing and
withdrawing through the admin pages, the per-branch chart."""

from __future__ import annotations

import io

import pytest

from marketplace import permissions
from marketplace.auth.models import Account
from marketplace.extensions import db
from messaging.models import Announcement
from tests.merchant_portal.conftest import csrf_of, fresh_g
from tests.orgs.helpers import PASSWORD, build_tree

ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PAGES = [
    ("GET", "/m/messages", None, "message.read", 200, "members"),
    ("GET", "/m/messages/a/{a}", None, "message.read", 200, "members"),
    ("GET", "/m/messages/a/{a}/cover", None, "message.read", 200, "members"),
    ("GET", "/admin/announcements", None, "announcement.manage", 200, "admin"),
    ("GET", "/admin/announcements/new", None, "announcement.manage", 200, "admin"),
    ("POST", "/admin/announcements/new", {"title": "t", "body": "b"}, "announcement.manage",
     302, "admin"),
    ("GET", "/admin/announcements/{a}", None, "announcement.manage", 200, "admin"),
    ("GET", "/admin/announcements/{a}/reads.svg", None, "announcement.manage", 200, "admin"),
    ("GET", "/admin/announcements/{a}/cover", None, "announcement.manage", 200, "admin"),
    ("POST", "/admin/announcements/{w}/withdraw", {}, "announcement.manage", 302, "admin"),
]  # fmt: skip


@pytest.fixture
def world(client, app_ctx):
    from marketplace.auth.services import create_account
    from messaging import announcements
    from tests.flashsale.factories import make_merchant

    w = build_tree(client)
    make_merchant()
    create_account("root", PASSWORD, "admin")
    ba = create_account("admin-a", PASSWORD, "branch_admin", org_id=w["orgs"]["A"])
    member = db.session.scalar(
        db.select(Account.username).join(Account.member).where(Account.member_id == w["members"][1])
    )
    owner = db.session.scalar(db.select(Account.username).where(Account.role == "merchant_owner"))
    w["accounts"] = {"member": member, "merchant_owner": owner, "admin": "root",
                     "branch_admin": "admin-a"}  # fmt: skip

    class P:
        account_id, role = ba.id, "branch_admin"

    w["a"] = announcements.create(P, {"title": "分会通知", "body": "**你好**"}, PNG).id
    w["w"] = announcements.create(P, {"title": "要撤回", "body": "x"}).id
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
    for method, url, data, action, ok, _area in PAGES:
        url = url.format(a=world["a"], w=world["w"])
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


def test_unread_badge_on_member_pages(client, world):
    session_for(client, world, "member")
    for url in ("/m/card", "/m/messages", "/m/"):
        fresh_g()
        html = client.get(url).get_data(as_text=True)
        assert 'data-testid="tab-messages-badge">2<' in html, url
    fresh_g()  # the sale list is rendered once for every member: the script fills the count in
    shared = client.get("/m/sales").get_data(as_text=True)
    assert 'data-testid="tab-messages-badge" hidden><' in shared
    assert 'data-source="/m/messages/live"' in shared
    fresh_g()
    client.get(f"/m/messages/a/{world['a']}")
    fresh_g()
    assert 'data-testid="tab-messages-badge">1<' in client.get("/m/card").get_data(as_text=True)


def test_member_of_another_branch_gets_404(client, world):
    world["accounts"]["member"] = db.session.scalar(
        db.select(Account.username).where(Account.member_id == world["members"][2])
    )
    session_for(client, world, "member")
    fresh_g()
    assert client.get(f"/m/messages/a/{world['a']}").status_code == 404
    fresh_g()
    assert "分会通知" not in client.get("/m/messages").get_data(as_text=True)


def test_write_through_the_page_with_a_cover_then_withdraw(client, world):
    token = session_for(client, world, "admin")
    fresh_g()
    resp = client.post(
        "/admin/announcements/new",
        data={"csrf_token": token, "title": "全市通知", "body": "<script>x</script>",
              "audience": "all", "cover": (io.BytesIO(b"GIF89a not allowed"), "c.png")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert resp.status_code == 415
    fresh_g()
    resp = client.post(
        "/admin/announcements/new",
        data={"csrf_token": token, "title": "全市通知", "body": "# 大家好",
              "audience": "all", "cover": (io.BytesIO(PNG), "c.png")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert resp.status_code == 302
    a = db.session.scalar(db.select(Announcement).where(Announcement.title == "全市通知"))
    assert a.audience_key == "all" and a.cover_type == "image/png"
    fresh_g()
    svg = client.get(f"/admin/announcements/{a.id}/reads.svg")
    assert svg.mimetype == "image/svg+xml" and b"<script" not in svg.data
    fresh_g()
    client.post(f"/admin/announcements/{a.id}/withdraw", data={"csrf_token": token})
    assert db.session.get(Announcement, a.id).withdrawn_at is not None
