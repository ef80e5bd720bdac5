"""The catalogue in Debian's Chromium against gunicorn: home, a merchant page, joining a deal."""

import re

import pytest
from playwright.sync_api import expect

from . import factories as f


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 390, "height": 844}}


@pytest.fixture
def seeded(app, client):
    with app.app_context():
        merchant, owner, _ = f.merchant("老北京火锅", hours="11:00-23:00", keywords="涮肉")
        offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
        deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
        _, _, card = f.member(password=True)
        return {"merchant": merchant.id, "offer": offer["id"], "deal": deal["id"], "card": card}


def _login(page, live_server, card, target):
    page.goto(f"{live_server}/m/login?next={target}")
    page.get_by_test_id("username").fill(card)
    page.get_by_test_id("password").fill(f.PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def test_home_directory_and_merchant_page(page, live_server, seeded):
    _login(page, live_server, seeded["card"], "/m/")
    expect(page.locator("h1")).to_have_text("首页")
    expect(page.get_by_test_id(f"groupbuy-{seeded['deal']}")).to_contain_text("双人火锅套餐")
    expect(page.get_by_test_id("categories")).to_contain_text("餐饮")
    page.get_by_test_id("link-directory").click()  # the home's quick links (phone: no header links)
    page.get_by_test_id("search").fill("涮肉")
    page.get_by_test_id("search-submit").click()
    page.get_by_test_id(f"merchant-{seeded['merchant']}").click()
    expect(page.get_by_test_id("merchant-name")).to_have_text("老北京火锅")
    expect(page.get_by_test_id("opening-hours")).to_contain_text("11:00-23:00")
    page.get_by_test_id(f"offer-{seeded['offer']}").click()
    expect(page.get_by_test_id("terms")).to_have_text("周一至周五可用")


def test_join_a_groupbuy(page, live_server, seeded):
    target = f"/m/groupbuys/{seeded['deal']}"
    _login(page, live_server, seeded["card"], target)
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
    expect(page.get_by_test_id("joined")).to_have_text("0")
    page.get_by_test_id("join").click()
    expect(page.get_by_test_id("my-place")).to_be_visible()
    expect(page.get_by_test_id("joined")).to_have_text("1")
    page.get_by_test_id("tab-me").click()  # 我的 → 我的团购
    page.get_by_test_id("me-groupbuys").click()
    expect(page.get_by_test_id("places")).to_contain_text("双人火锅套餐")
