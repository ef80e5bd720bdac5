"""Announcements in Chromium against gunicorn: the city admin writes one on a desktop (with a
<script> and an onerror= attribute in the title and body), a member reads it on a phone
(390x844, zh-CN), nothing executes, the unread badge goes down, the admin sees who read it."""

import re

from playwright.sync_api import expect

from marketplace.auth.services import create_account
from tests.members.helpers import PASSWORD as MEMBER_PASSWORD
from tests.members.helpers import details
from tests.orgs.helpers import PASSWORD, build_tree

XSS_TITLE = '<img src=x onerror="window.__xss=1">通知<script>window.__xss=2</script>'
XSS_BODY = (
    "## 停电通知\n\n<script>window.__xss=3</script>\n\n"
    '<img src=x onerror="window.__xss=4">\n\n'
    "[点我](javascript:window.__xss=5) **明天** 上午停电。"
)


def watch(page) -> list:
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_announcement_written_on_desktop_read_on_a_phone_inert(live_server, app, phone,
                                                                desktop):  # fmt: skip
    with app.app_context():
        w = build_tree(app.test_client())
        create_account("root", PASSWORD, "admin")
    admin_dialogs, member_dialogs = watch(desktop), watch(phone)

    desktop.goto(live_server + "/admin/login")
    desktop.get_by_test_id("username").fill("root")
    desktop.get_by_test_id("password").fill(PASSWORD)
    desktop.get_by_test_id("submit").click()
    desktop.get_by_test_id("nav-announcements").click()
    desktop.get_by_test_id("new-announcement").click()
    desktop.get_by_test_id("title").fill(XSS_TITLE)
    desktop.get_by_test_id("body").fill(XSS_BODY)
    desktop.get_by_test_id("audience").select_option(f"org:{w['orgs']['A']}")
    desktop.get_by_test_id("publish").click()
    expect(desktop).to_have_url(re.compile(r"/admin/announcements/\d+$"))
    expect(desktop.get_by_test_id("announcement-title")).to_have_text(
        re.compile(re.escape("<script>window.__xss=2</script>"))
    )
    expect(desktop.get_by_test_id("read-total")).to_contain_text("0")
    admin_url = desktop.url

    phone.goto(live_server + "/m/login")
    phone.get_by_test_id("username").fill(details(1)["card_no"])
    phone.get_by_test_id("password").fill(MEMBER_PASSWORD)
    phone.get_by_test_id("submit").click()
    expect(phone.get_by_test_id("tab-messages-badge")).to_have_text("1")  # the bottom tab bar
    phone.get_by_test_id("tab-messages").click()
    expect(phone).to_have_url(re.compile(r"/m/messages$"))
    item = phone.locator("[data-testid^=inbox-item-]")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("<script>window.__xss=2</script>")
    item.get_by_role("link").click()
    body = phone.get_by_test_id("announcement-body")
    expect(body.locator("h2")).to_have_text("停电通知")
    expect(body.locator("strong")).to_have_text("明天")
    expect(body).to_contain_text("<script>window.__xss=3</script>")  # shown as text
    assert body.locator("script, img, [onerror]").count() == 0
    assert phone.evaluate("window.__xss") is None
    # the page fits the phone: no horizontal scrolling
    wide = phone.evaluate(
        "[document.body.scrollWidth, window.innerWidth, document.documentElement.clientWidth,"
        " ...[...document.querySelectorAll('*')].filter(e => e.scrollWidth > 392)"
        ".map(e => e.tagName + '.' + e.className + e.scrollWidth).slice(0, 14)]"
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, " ".join(map(str, wide))
    expect(phone.get_by_test_id("tab-messages-badge")).to_be_hidden()
    assert phone.locator("a[href^='javascript']").count() == 0

    desktop.goto(admin_url)
    expect(desktop.get_by_test_id("read-total")).to_contain_text("1")
    expect(desktop.get_by_test_id("reads-chart")).to_be_visible()
    assert desktop.evaluate("window.__xss") is None
    assert admin_dialogs == [] and member_dialogs == []
