"""Conversations in Chromium against gunicorn: a member asks on a phone (390x844, zh-CN), the
branch admin answers from the desktop inbox with a <script> and an onerror= in the reply, the
member sees the reply (after reloading) as inert text; branch B's admin sees nothing of it."""

import re

from playwright.sync_api import expect

from marketplace.auth.services import create_account
from tests.members.helpers import PASSWORD as MEMBER_PASSWORD
from tests.members.helpers import details
from tests.orgs.helpers import PASSWORD, build_tree

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>请带身份证'


def admin_login(page, base, username):
    page.goto(base + "/admin/login")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()


def test_member_asks_on_a_phone_branch_admin_answers_on_desktop(live_server, app, phone,
                                                                desktop):  # fmt: skip
    with app.app_context():
        w = build_tree(app.test_client())
        create_account("admin-a", PASSWORD, "branch_admin", org_id=w["orgs"]["A"])
        create_account("admin-b", PASSWORD, "branch_admin", org_id=w["orgs"]["B"])
    dialogs = []
    for page in (phone, desktop):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    phone.goto(live_server + "/m/login")
    phone.get_by_test_id("username").fill(details(1)["card_no"])
    phone.get_by_test_id("password").fill(MEMBER_PASSWORD)
    phone.get_by_test_id("submit").click()
    phone.get_by_test_id("tab-messages").click()
    phone.get_by_test_id("ask").click()
    phone.get_by_test_id("message-input").fill("会员卡丢了怎么办？<script>window.__xss=3</script>")
    phone.get_by_test_id("send").click()
    expect(phone).to_have_url(re.compile(r"/m/messages/c/\d+$"))
    expect(phone.get_by_test_id("message-body")).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    admin_login(desktop, live_server, "admin-b")
    desktop.get_by_test_id("nav-conversations").click()
    expect(desktop.get_by_test_id("no-conversations")).to_be_visible()
    desktop.get_by_test_id("logout").click()

    admin_login(desktop, live_server, "admin-a")
    desktop.get_by_test_id("nav-conversations").click()
    row = desktop.locator("[data-testid^=conversation-]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid^=unread-]")).to_have_text("1")
    expect(row.locator("[data-testid^=waiting-]")).to_contain_text(re.compile(r"\d"))
    row.get_by_role("link").click()
    expect(desktop.get_by_test_id("message-body").first).to_contain_text(
        "<script>window.__xss=3</script>"
    )
    desktop.get_by_test_id("reply-input").fill(XSS)
    desktop.get_by_test_id("reply").click()
    expect(desktop.locator(".flash-success")).to_be_visible()
    expect(desktop.get_by_test_id("message-body")).to_have_count(2)
    assert desktop.evaluate("window.__xss") is None

    phone.reload()
    bodies = phone.get_by_test_id("message-body")
    expect(bodies).to_have_count(2)
    expect(bodies.nth(1)).to_have_text(XSS)  # the reply, shown as the text it is
    assert phone.locator("[data-testid=thread] script, [data-testid=thread] [onerror]").count() == 0
    assert phone.evaluate("window.__xss") is None
    expect(phone.get_by_test_id("tab-messages-badge")).to_be_hidden()  # seen on this page
    assert dialogs == []
