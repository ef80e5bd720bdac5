"""The admin's coverage page and member search on a phone (390x844, zh-CN): the trend chart
loads as an image, the table fits by scrolling, a search shows a masked row (issue #18)."""

import pytest
from playwright.sync_api import expect

from marketplace.auth.services import create_account
from tests.members.helpers import details
from tests.orgs.helpers import PASSWORD, build_tree


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_coverage_and_search_on_a_phone(app_ctx, client, live_server, phone):
    world = build_tree(client)
    create_account("root", PASSWORD, "admin")
    phone.goto(live_server + "/admin/login")
    phone.get_by_test_id("username").fill("root")
    phone.get_by_test_id("password").fill(PASSWORD)
    phone.get_by_test_id("submit").click()
    phone.goto(live_server + "/admin/coverage")
    chart = phone.get_by_test_id("coverage-chart")
    expect(chart).to_be_visible()
    phone.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=chart.element_handle(), timeout=5000
    )
    expect(phone.get_by_test_id(f"coverage-{world['orgs']['A']}")).to_contain_text("一分会")
    phone.get_by_test_id("nav-member-search").click()
    phone.get_by_test_id("member-q").fill(details(1)["phone"])
    phone.get_by_test_id("member-find").click()
    row = phone.get_by_test_id(f"found-{world['members'][1]}")
    expect(row).to_contain_text("139****0001")
    expect(row).not_to_contain_text(details(1)["card_no"])
