"""Announcements: O(1) publishing, audiences, scheduling, withdrawal, read markers and per-branch
read counts, admins kept to their subtree, inert HTML, covers checked by their bytes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.extensions import db
from messaging.models import Announcement, AnnouncementRead
from tests.members.helpers import bearer
from tests.orgs.helpers import branch_admin, build_tree, city_admin

ADMIN_URL = "/api/v1/admin/announcements"
INBOX = "/api/v1/messages/announcements"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def world(client, app_ctx):
    w = build_tree(client)
    w["city"] = city_admin(client)
    w["adm_a"] = branch_admin(client, "admin-a", w["orgs"]["A"])
    w["adm_b"] = branch_admin(client, "admin-b", w["orgs"]["B"])
    w["adm_d1"] = branch_admin(client, "admin-d1", w["orgs"]["d1"])
    return w


def publish(client, token, **body):
    body = {"title": "通知", "body": "正文", **body}
    return client.post(ADMIN_URL, headers=bearer(token), json=body)


def inbox_ids(client, token):
    resp = client.get(INBOX, headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    return [i["id"] for i in resp.get_json()["items"]]


def unread(client, token):
    return client.get("/api/v1/messages/unread", headers=bearer(token)).get_json()["announcements"]


def test_publishing_to_everyone_writes_one_row_and_reads_write_markers(client, world):
    t = world["tokens"]
    resp = publish(client, world["city"], audience="all")
    assert resp.status_code == 201, resp.get_json()
    aid = resp.get_json()["id"]
    assert resp.get_json()["status"] == "published"
    # O(1): one announcement row, no row per recipient
    assert db.session.scalar(db.select(db.func.count()).select_from(Announcement)) == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(AnnouncementRead)) == 0
    for n in (1, 2, 3):
        assert inbox_ids(client, t[n]) == [aid]
        assert unread(client, t[n]) == 1
    opened = client.get(f"{INBOX}/{aid}", headers=bearer(t[1]))
    assert opened.status_code == 200 and opened.get_json()["title"] == "通知"
    client.get(f"{INBOX}/{aid}", headers=bearer(t[1]))  # a second opening adds nothing
    assert db.session.scalar(db.select(db.func.count()).select_from(AnnouncementRead)) == 1
    assert (unread(client, t[1]), unread(client, t[2])) == (0, 1)
    assert client.get(INBOX, headers=bearer(t[1])).get_json()["items"][0]["read"] is True


def test_audiences_reach_exactly_their_members(client, world):
    t, o = world["tokens"], world["orgs"]
    ids = {}
    for name, body in {
        "d1": {"audience": "org", "audience_org_id": o["d1"]},
        "A": {"audience": "org", "audience_org_id": o["A"]},
        "C": {"audience": "org", "audience_org_id": o["C"]},
        "region": {"audience": "region", "audience_region": "130104"},
        "city": {"audience": "org", "audience_org_id": o["city"]},
    }.items():
        resp = publish(client, world["city"], title=name, **body)
        assert resp.status_code == 201, resp.get_json()
        ids[name] = resp.get_json()["id"]
    assert sorted(inbox_ids(client, t[1])) == sorted([ids["d1"], ids["A"], ids["city"]])
    assert sorted(inbox_ids(client, t[2])) == sorted([ids["d1"], ids["city"]])
    assert sorted(inbox_ids(client, t[3])) == sorted([ids["C"], ids["region"], ids["city"]])
    # a member cannot open one not addressed to them
    resp = client.get(f"{INBOX}/{ids['A']}", headers=bearer(t[2]))
    assert (resp.status_code, resp.get_json()["code"]) == (404, "not_found")


def test_scheduled_then_withdrawn(client, world):
    t = world["tokens"]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    scheduled = publish(client, world["city"], audience="all", publish_at=later).get_json()
    assert scheduled["status"] == "scheduled"
    assert inbox_ids(client, t[1]) == []
    assert client.get(f"{INBOX}/{scheduled['id']}", headers=bearer(t[1])).status_code == 404
    # time passes (the row's publish time moves into the past): it appears, no job involved
    a = db.session.get(Announcement, scheduled["id"])
    a.publish_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert inbox_ids(client, t[1]) == [scheduled["id"]]
    withdrawn = client.post(f"{ADMIN_URL}/{a.id}/withdraw", headers=bearer(world["city"]))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert inbox_ids(client, t[1]) == [] and unread(client, t[1]) == 0
    again = client.post(f"{ADMIN_URL}/{a.id}/withdraw", headers=bearer(world["city"]))
    assert (again.status_code, again.get_json()["code"]) == (409, "already_withdrawn")
    naive = publish(client, world["city"], publish_at="2030-01-01T08:00:00")
    assert naive.status_code == 422


def test_branch_admins_are_kept_to_their_subtree(client, world):
    o, t = world["orgs"], world["tokens"]
    own = publish(client, world["adm_a"])  # default audience: its own branch
    assert own.status_code == 201 and own.get_json()["audience_org_id"] == o["A"]
    assert inbox_ids(client, t[1]) == [own.get_json()["id"]] and inbox_ids(client, t[2]) == []
    for body in ({"audience": "all"}, {"audience": "region", "audience_region": "130102"},
                 {"audience": "org", "audience_org_id": o["B"]},
                 {"audience": "org", "audience_org_id": o["d1"]}):  # fmt: skip
        resp = publish(client, world["adm_a"], **body)
        assert (resp.status_code, resp.get_json()["code"]) == (403, "audience_out_of_scope"), body
    # the district admin may address a branch under it
    d1 = publish(client, world["adm_d1"], audience="org", audience_org_id=o["B"])
    assert d1.status_code == 201
    d1_id, a_id = d1.get_json()["id"], own.get_json()["id"]
    # branch B's admin sees neither; A's admin sees its own only; the district sees both
    for token, visible in ((world["adm_b"], []), (world["adm_a"], [a_id]),
                           (world["adm_d1"], [d1_id, a_id])):  # fmt: skip
        listed = client.get(ADMIN_URL, headers=bearer(token)).get_json()["items"]
        assert sorted(i["id"] for i in listed) == sorted(visible)
    for path in ("", "/reads"):
        resp = client.get(f"{ADMIN_URL}/{a_id}{path}", headers=bearer(world["adm_b"]))
        assert resp.status_code == 404
    resp = client.post(f"{ADMIN_URL}/{d1_id}/withdraw", headers=bearer(world["adm_a"]))
    assert resp.status_code == 404
    assert db.session.get(Announcement, d1_id).withdrawn_at is None


def test_read_counts_per_branch(client, world):
    t, o = world["tokens"], world["orgs"]
    aid = publish(client, world["city"], audience="org", audience_org_id=o["d1"]).get_json()["id"]
    client.get(f"{INBOX}/{aid}", headers=bearer(t[1]))
    stats = client.get(f"{ADMIN_URL}/{aid}/reads", headers=bearer(world["city"])).get_json()
    assert (stats["audience"], stats["read"]) == (2, 1)
    by = {r["org_id"]: (r["audience"], r["read"]) for r in stats["by_org"]}
    assert by == {o["A"]: (1, 1), o["B"]: (1, 0)}


def test_activated_only_counts_active_cards(client, app_ctx):
    w = build_tree(client, activate=(1, 2))  # member 3 holds an issued, unactivated card
    token = city_admin(client)
    aid = publish(client, token, audience="all", activated_only=True).get_json()["id"]
    stats = client.get(f"{ADMIN_URL}/{aid}/reads", headers=bearer(token)).get_json()
    assert stats["audience"] == 2
    everyone = publish(client, token, audience="all").get_json()["id"]
    assert client.get(f"{ADMIN_URL}/{everyone}/reads", headers=bearer(token)).json["audience"] == 3
    assert w["orgs"]["C"] not in {
        r["org_id"] for r in client.get(f"{ADMIN_URL}/{aid}/reads", headers=bearer(token)).json[
            "by_org"]
    }  # fmt: skip


def elements(html: str) -> list[tuple[str, list]]:
    """(tag, attributes) of every element of ``html``, as a browser's parser sees them."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_html_and_script_in_the_body_are_inert(client, world):
    body = (
        "# 标题 <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        '<a href="javascript:alert(1)">x</a> [y](javascript:alert(2)) **粗体** [ok](https://a.cn)'
    )
    resp = publish(client, world["city"], title="<script>alert(3)</script>", body=body)
    html = resp.get_json()["body_html"]
    tags = elements(html)
    assert {t for t, _a in tags} <= {"h1", "p", "a", "strong"}, tags
    assert all(not name.startswith("on") for _t, attrs in tags for name, _v in attrs)
    assert [v for t, attrs in tags if t == "a" for n, v in attrs if n == "href"] == ["https://a.cn"]
    assert "<strong>粗体</strong>" in html and 'href="https://a.cn"' in html
    assert resp.get_json()["title"] == "<script>alert(3)</script>"  # kept as text


def test_cover_is_checked_by_its_bytes(client, world):
    aid = publish(client, world["city"]).get_json()["id"]

    def put(data, name="a.png"):
        return client.put(f"{ADMIN_URL}/{aid}/cover", headers=bearer(world["city"]),
                          data={"file": (io.BytesIO(data), name)})  # fmt: skip

    ok = put(PNG)
    assert ok.status_code == 200 and ok.get_json()["has_cover"] is True
    fake = put(b"<svg onload=alert(1)>", "x.png")
    assert (fake.status_code, fake.get_json()["code"]) == (415, "unsupported_image")
    big = put(PNG + b"\0" * 600 * 1024)
    assert big.status_code == 413
    assert big.headers["Content-Type"].startswith("application/problem+json")


def test_links_must_exist(client, world):
    from tests.flashsale.factories import create_sale, make_merchant

    bad = publish(client, world["city"], link_kind="sale", link_id=999)
    assert (bad.status_code, bad.get_json()["code"]) == (404, "not_found")
    _mid, owner = make_merchant()
    sale = create_sale(client, owner)
    good = publish(client, world["city"], link_kind="sale", link_id=sale)
    assert good.status_code == 201 and good.get_json()["link_id"] == sale


ENDPOINTS = [
    ("get", ADMIN_URL, "announcement.manage", None),
    ("post", ADMIN_URL, "announcement.manage", {"title": "t", "body": "b"}),
    ("get", ADMIN_URL + "/{a}", "announcement.manage", None),
    ("put", ADMIN_URL + "/{a}/cover", "announcement.manage", None),
    ("post", ADMIN_URL + "/{a}/withdraw", "announcement.manage", None),
    ("get", ADMIN_URL + "/{a}/reads", "announcement.manage", None),
    ("get", INBOX, "message.read", None),
    ("get", INBOX + "/{a}", "message.read", None),
    ("get", "/api/v1/messages/unread", "message.read", None),
]
ROLES = ("anon", "member", "merchant_owner", "admin", "branch_admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,url,action,body", ENDPOINTS)
def test_authorization_matrix(client, world, role, method, url, action, body):
    from marketplace import permissions
    from tests.flashsale.factories import make_merchant

    # an announcement to branch A written by A's admin: every allowed caller may touch it
    aid = publish(client, world["adm_a"]).get_json()["id"]
    tokens = {"member": world["tokens"][1], "merchant_owner": make_merchant()[1],
              "admin": world["city"], "branch_admin": world["adm_a"]}  # fmt: skip
    headers = bearer(tokens[role]) if role != "anon" else {}
    resp = getattr(client, method)(url.format(a=aid), headers=headers, json=body)
    if role == "anon":
        assert resp.status_code == 401
    elif permissions.allows(role, action):
        assert resp.status_code not in (401, 403, 404), (role, resp.get_json())
    else:
        assert (resp.status_code, resp.get_json()["code"]) == (403, "forbidden"), role


def test_an_org_named_by_an_announcement_cannot_be_deleted(client, world):
    from marketplace import orgs

    h = bearer(world["city"])
    empty = client.post(ADMIN_URL.replace("announcements", "orgs"), headers=h,
                        json={"parent_id": world["orgs"]["d2"], "kind": "branch",
                              "name": "空分会"}).get_json()  # fmt: skip
    publish(client, world["city"], audience="org", audience_org_id=empty["id"])
    resp = client.delete(f"/api/v1/admin/orgs/{empty['id']}", headers=h)
    assert (resp.status_code, resp.get_json()["code"]) == (409, "org_not_empty")
    assert db.session.get(orgs.Org, empty["id"]) is not None
