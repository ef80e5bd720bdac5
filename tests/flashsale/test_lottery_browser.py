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
    sale = lottery_sale(client, owner, total_stock=2)
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


def test_winner_confirms_and_the_merchant_hands_an_unused_ticket_on(
    app_ctx, client, live_server, page, drain
):
    from datetime import timedelta

    from flashsale.models import LotteryEntry
    from marketplace.models import utcnow

    from .factories import PASSWORD
    from .lotterykit import entry, register

    _, owner = make_merchant()
    members = make_members(3)
    until = (utcnow() + timedelta(days=1)).isoformat()
    sale = lottery_sale(client, owner, total_stock=1, confirm_hours=3,
                        handon_until=until)  # fmt: skip
    for _m, token in members:
        register(client, sale, token)
    wait_closed(sale)
    lottery.run_draw(db.session.get(Campaign, sale))
    drain()
    db.session.rollback()
    rows = {e.member_id: e for e in db.session.scalars(db.select(LotteryEntry))}
    index, (winner, _t) = next((i, m) for i, m in enumerate(members)
                               if rows[m[0]].outcome == "won")  # fmt: skip
    ticket = rows[winner].ticket
    login(page, live_server, f"62220{index:011d}", f"/m/sales/{sale}")
    expect(page.get_by_test_id("lottery-confirm-rule")).to_contain_text("3 hours")
    expect(page.get_by_test_id("lottery-state")).to_contain_text("You won")
    expect(page.get_by_test_id("lottery-deadline")).to_contain_text("Confirm your ticket by")
    page.get_by_test_id("confirm-win").click()
    expect(page.get_by_test_id("lottery-deadline")).to_contain_text("Confirmed")
    expect(page.get_by_test_id("confirm-win")).to_be_hidden()
    db.session.rollback()
    assert db.session.get(LotteryEntry, rows[winner].id).confirmed_at is not None

    # The winner did not come: the merchant hands the ticket on from the portal.
    page.context.clear_cookies()
    page.goto(f"{live_server}/merchant/login?next=/merchant/sales/{sale}")
    page.get_by_test_id("username").fill("owner1")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    page.goto(f"{live_server}/merchant/sales/{sale}")
    expect(page.get_by_test_id(f"winner-{ticket}")).to_contain_text("issued")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"unused-{ticket}").click()
    expect(page.get_by_text("Marked unused")).to_be_visible()
    expect(page.get_by_test_id(f"winner-{ticket}")).to_contain_text("Passed on")
    db.session.rollback()  # the gunicorn process changed the rows this session holds
    nxt = db.session.scalar(db.select(LotteryEntry.member_id).where(LotteryEntry.position == 2))
    assert entry(client, sale, dict(members)[nxt])["state"] == "won"
    assert entry(client, sale, dict(members)[winner])["state"] == "passed"
