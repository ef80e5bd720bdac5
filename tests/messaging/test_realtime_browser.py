"""Real time in Chromium against gunicorn and the real-time process: the branch admin's reply
(with a <script> and an onerror=) appears on the member's open conversation page on a phone
without a reload, as inert text, within a second or so; the admin's open inbox shows the
member's new message the same way; with the real-time process unreachable, the page catches up
by polling."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.conftest import gunicorn_server
from tests.members.helpers import PASSWORD as MEMBER_PASSWORD
from tests.members.helpers import bearer, details
from tests.orgs.helpers import PASSWORD, branch_admin, build_tree

from .realtime_kit import realtime_server

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>请带身份证来'
MINE = "/api/v1/messages/conversations"
STAFF = "/api/v1/admin/conversations"


def member_login(page, base):
    page.goto(base + "/m/login")
    page.get_by_test_id("username").fill(details(1)["card_no"])
    page.get_by_test_id("password").fill(MEMBER_PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("tab-messages")).to_be_visible()


def setup_world(app, client):
    with app.app_context():
        w = build_tree(client)
        admin = branch_admin(client, "admin-a", w["orgs"]["A"])
        cid = client.post(MINE, headers=bearer(w["tokens"][1]),
                          json={"body": "会员卡丢了怎么办？"}).get_json()["id"]  # fmt: skip
    return w, admin, cid


def test_a_reply_appears_on_the_members_open_page_without_reload(app, app_config, client, phone,
                                                                  desktop):  # fmt: skip
    w, admin, cid = setup_world(app, client)
    with realtime_server(app_config) as rt, gunicorn_server(app_config, REALTIME_URL=rt) as base:
        member_login(phone, base)
        phone.goto(f"{base}/m/messages/c/{cid}")
        expect(phone.get_by_test_id("message-body")).to_have_count(1)
        expect(phone.get_by_test_id("realtime")).to_have_attribute("data-rt-state", "live")
        phone.evaluate("window.__stay = 'same page'")

        sent = time.monotonic()
        with app.app_context():
            resp = client.post(f"{STAFF}/{cid}/replies", headers=bearer(admin), json={"body": XSS})
            assert resp.status_code == 201
        expect(phone.get_by_test_id("message-body")).to_have_count(2, timeout=3000)
        took = time.monotonic() - sent
        assert took < 2.0, took  # event < 1 s, then the page fetches its thread
        print(f"reply visible on the member's page after {took * 1000:.0f} ms")  # noqa: T201
        expect(phone.get_by_test_id("message-body").nth(1)).to_have_text(XSS)
        assert phone.evaluate("window.__stay") == "same page"  # not reloaded
        assert phone.evaluate("window.__xss") is None
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390

        # the admin's open inbox shows the member's next message without a reload
        desktop.goto(base + "/admin/login")
        desktop.get_by_test_id("username").fill("admin-a")
        desktop.get_by_test_id("password").fill(PASSWORD)
        desktop.get_by_test_id("submit").click()
        desktop.goto(base + "/admin/conversations")
        expect(desktop.get_by_test_id("realtime")).to_have_attribute("data-rt-state", "live")
        expect(desktop.get_by_test_id(f"unread-{cid}")).to_have_count(0)
        phone.get_by_test_id("message-input").fill("<script>window.__xss=3</script>还有一个问题")
        phone.get_by_test_id("send").click()
        expect(desktop.get_by_test_id(f"unread-{cid}")).to_have_text("1", timeout=3000)
        assert desktop.evaluate("window.__xss") is None


def test_without_the_realtime_process_the_page_catches_up_by_polling(app, app_config, client,
                                                                     phone):  # fmt: skip
    from inventory.server import free_port

    _w, admin, cid = setup_world(app, client)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: the stream fails
    with gunicorn_server(app_config, REALTIME_URL=dead, REALTIME_POLL_SECONDS="1") as base:
        member_login(phone, base)
        phone.goto(f"{base}/m/messages/c/{cid}")
        expect(phone.get_by_test_id("realtime")).to_have_attribute("data-rt-state", "polling")
        phone.evaluate("window.__stay = 'same page'")
        with app.app_context():
            client.post(f"{STAFF}/{cid}/replies", headers=bearer(admin), json={"body": "已收到"})
        expect(phone.get_by_test_id("message-body")).to_have_count(2, timeout=5000)
        assert phone.evaluate("window.__stay") == "same page"
