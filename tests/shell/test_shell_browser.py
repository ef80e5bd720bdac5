"""The member app shell in Chromium at 390x844 (zh-CN) against gunicorn: the tab bar (one row,
every tab navigates), login landing on home, 券包 (tabs, every QR decodes, counter mode, cancel)
and the password reset through the union end to end."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from marketplace.auth.services import create_account
from tests.members.helpers import PASSWORD as MEMBER_PASSWORD
from tests.members.helpers import details
from tests.orgs.helpers import PASSWORD as ADMIN_PASSWORD
from tests.orgs.helpers import build_tree

from .data import PASSWORD, wallet

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN", "is_mobile": True,
         "has_touch": True}  # fmt: skip
TABS = [("home", "/m/"), ("sales", "/m/sales"), ("wallet", "/m/wallet"),
        ("messages", "/m/messages"), ("me", "/m/me")]  # fmt: skip


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def _login(phone, base, card_no, password=PASSWORD, next_url=None):
    phone.goto(base + "/m/login" + (f"?next={next_url}" if next_url else ""))
    phone.get_by_test_id("username").fill(card_no)
    phone.get_by_test_id("password").fill(password)
    phone.get_by_test_id("submit").click()


def _decoded(page, locator):
    """Every image of ``locator`` decoded (a broken picture keeps naturalWidth at 0)."""
    expect(locator.first).to_be_visible()
    for handle in locator.element_handles():
        page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=handle,
                               timeout=5000)  # fmt: skip


def test_tab_bar_one_row_every_tab_navigates_login_lands_home(phone, live_server, app):
    with app.app_context():
        w = wallet(app.test_client())
    _login(phone, live_server, w.card_no)
    expect(phone).to_have_url(live_server + "/m/")  # home, not the card page
    bar = phone.get_by_test_id("tabbar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("首页")
    for label in ("抢购", "券包", "消息", "我的"):
        expect(bar).to_contain_text(label)
    boxes = [phone.get_by_test_id(f"tab-{name}").bounding_box() for name, _ in TABS]
    assert len({round(b["y"]) for b in boxes}) == 1  # one row
    bar_box = bar.bounding_box()
    assert bar_box["height"] <= 72 and bar_box["y"] + bar_box["height"] <= 844 + 1
    # The header stays one row on a phone: brand and language, no wrapped links.
    header = phone.locator("header.topbar").bounding_box()
    assert header["height"] <= 64, header
    badge = phone.get_by_test_id("tab-messages-badge")
    expect(badge).to_have_attribute("data-unread-badge", "")
    for name, path in TABS[1:] + TABS[:1]:
        phone.get_by_test_id(f"tab-{name}").click()
        expect(phone).to_have_url(live_server + path)
        expect(phone.get_by_test_id(f"tab-{name}")).to_have_attribute("aria-current", "page")
        assert phone.locator("header.topbar").bounding_box()["height"] <= 64, path
    # A same-site next still wins over home.
    phone.context.clear_cookies()
    _login(phone, live_server, w.card_no, next_url="/m/card")
    expect(phone).to_have_url(live_server + "/m/card")


def test_wallet_tabs_qr_counter_mode_and_cancel(phone, live_server, app):
    with app.app_context():
        w = wallet(app.test_client())
    _login(phone, live_server, w.card_no, next_url="/m/vouchers")  # the old URL follows
    expect(phone).to_have_url(live_server + "/m/wallet")
    items = phone.get_by_test_id("wallet-items")
    expect(items.get_by_test_id(f"voucher-{w.unused}")).to_be_visible()
    expect(items.get_by_test_id(f"voucher-{w.groupbuy}")).to_contain_text("团购")
    expect(items.get_by_test_id(f"voucher-{w.unused}").get_by_test_id("expiry")).to_contain_text(
        "有效期"
    )
    _decoded(phone, items.locator("img.qr-img"))
    for tab, code in (("used", w.used), ("expired", w.expired)):
        phone.get_by_test_id(f"wallet-tab-{tab}").click()
        expect(phone).to_have_url(re.compile(rf"/m/wallet\?tab={tab}$"))
        expect(phone.get_by_test_id(f"voucher-{code}")).to_be_visible()
        expect(phone.get_by_test_id(f"voucher-{w.unused}")).to_have_count(0)
        _decoded(phone, phone.get_by_test_id("wallet-items").locator("img.qr-img"))

    # Counter mode: the big QR and the code on white.
    phone.get_by_test_id("wallet-tab-unused").click()
    phone.get_by_test_id(f"voucher-{w.unused}").locator("a").click()
    expect(phone.get_by_test_id("voucher-code")).to_have_text(w.unused)
    phone.get_by_test_id("counter-mode").click()
    expect(phone.get_by_test_id("counter-code")).to_have_text(w.unused)
    qr = phone.get_by_test_id("counter-qr")
    _decoded(phone, qr)
    assert qr.bounding_box()["width"] >= 300  # most of a 390 px screen
    assert phone.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    expect(phone.get_by_test_id("tabbar")).to_have_count(0)  # nothing else on screen
    phone.get_by_test_id("counter-close").click()

    # Cancel, after a confirmation: refused once, then accepted.
    phone.once("dialog", lambda d: d.dismiss())
    phone.get_by_test_id("cancel-voucher").click()
    expect(phone).to_have_url(live_server + f"/m/wallet/{w.unused}")
    phone.once("dialog", lambda d: d.accept())
    phone.get_by_test_id("cancel-voucher").click()
    expect(phone).to_have_url(re.compile(r"/m/wallet\?tab=cancelled$"))
    expect(phone.locator(".flash-success")).to_be_visible()
    expect(phone.get_by_test_id(f"voucher-{w.unused}")).to_contain_text("已取消")


def test_password_reset_through_the_union(phone, browser, live_server, app):
    with app.app_context():
        t = build_tree(app.test_client(), activate=(1, 2))
        create_account("admin-a", ADMIN_PASSWORD, "branch_admin", org_id=t["orgs"]["A"])
    member = t["members"][1]
    card_no = details(1)["card_no"]
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    try:
        desk.goto(live_server + "/admin/login")
        desk.get_by_test_id("username").fill("admin-a")
        desk.get_by_test_id("password").fill(ADMIN_PASSWORD)
        desk.get_by_test_id("submit").click()
        desk.goto(live_server + "/admin/members/search")
        desk.get_by_test_id("member-q").fill(card_no)
        desk.get_by_test_id("member-find").click()
        desk.once("dialog", lambda d: d.accept())
        desk.get_by_test_id(f"reset-code-{member}").click()
        code = desk.get_by_test_id("reset-code").inner_text().strip()
        assert re.fullmatch(r"\d{8}", code)
    finally:
        desk.context.close()

    new_password = "phone-new-pass-9"
    phone.goto(live_server + "/m/login")
    phone.get_by_test_id("forgot-password").click()
    expect(phone).to_have_url(live_server + "/m/forgot")

    def submit(code):
        phone.get_by_test_id("card_no").fill(card_no)
        phone.get_by_test_id("code").fill(code)
        phone.get_by_test_id("password").fill(new_password)
        phone.get_by_test_id("confirm").fill(new_password)
        phone.get_by_test_id("submit").click()

    submit(code)
    expect(phone).to_have_url(live_server + "/m/login")
    expect(phone.locator(".flash-success")).to_be_visible()
    _login(phone, live_server, card_no, MEMBER_PASSWORD)  # the old password is gone
    expect(phone.locator(".flash-error")).to_be_visible()
    _login(phone, live_server, card_no, new_password)
    expect(phone).to_have_url(live_server + "/m/")
    expect(phone.get_by_test_id("tabbar")).to_be_visible()

    phone.context.clear_cookies()
    phone.goto(live_server + "/m/forgot")
    submit(code)  # the same code again
    expect(phone.locator(".flash-error")).to_contain_text("重置码")
    expect(phone).to_have_url(live_server + "/m/forgot")
