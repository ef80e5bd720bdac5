"""A lottery in a real browser: the member registers on the sale page and sees the ticket and
the commitment; after the draw the page tells them they won and the voucher is theirs."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from flashsale import lottery
from flashsale.models import Campaign, LotteryDraw
from marketplace.extensions import db

from .factories import make_members, make_merchant
from .test_lottery import lottery_sale, wait_closed
from .test_room_browser import login


def test_member_registers_and_sees_the_result(app_ctx, client, live_server, page, drain):
    _, owner = make_merchant()
    make_members(1)
    sale = lottery_sale(client, owner, closes_in=6.0, total_stock=2)
    login(page, live_server, "62220" + "0" * 11, f"/m/sales/{sale}")
    expect(page.get_by_test_id("sale-mode")).to_contain_text("Lottery")
    commitment = db.session.get(LotteryDraw, sale).commitment
    expect(page.get_by_test_id("commitment")).to_have_text(commitment)
    expect(page.get_by_test_id("snap")).to_be_hidden()
    page.get_by_test_id("register").click()
    ticket = page.get_by_test_id("lottery-ticket")
    expect(ticket).to_have_text(re.compile(r"^[0-9a-f]{16}$"))
    expect(page.get_by_test_id("lottery-state")).to_contain_text("registered")
    wait_closed(sale)
    lottery.run_draw(db.session.get(Campaign, sale))
    drain()
    page.reload()
    expect(page.get_by_test_id("lottery-state")).to_contain_text("You won")
    page.get_by_test_id("nav-wallet").click()  # 券包 (Wallet)
    expect(page.locator("img.qr-img").first).to_be_visible()
