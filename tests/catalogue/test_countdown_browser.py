"""Countdowns longer than a day read "6 天 hh:mm:ss" on a zh-CN page, not "6d" (issue #18)."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from marketplace.models import utcnow

from . import factories as f


def test_countdown_days_in_chinese(app_ctx, client, live_server, browser):
    _, owner, _ = f.merchant()
    deadline = utcnow() + timedelta(days=6, hours=2)
    deal = f.create(
        client, "/api/v1/merchant/groupbuys", owner, f.deal_body(deadline=deadline.isoformat())
    )
    _, _, card = f.member(password=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server}/m/login?next=/m/groupbuys/{deal['id']}")
    page.get_by_test_id("username").fill(card)
    page.get_by_test_id("password").fill(f.PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("countdown")).to_have_text(re.compile(r"^6 天 \d\d:\d\d:\d\d$"))
    context.close()
