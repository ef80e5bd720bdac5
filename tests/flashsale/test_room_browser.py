"""The waiting room in a real browser: join before the start, see the place drawn at the start,
the claim button appears by itself when admitted; a member further back sees place, people ahead
and a progress bar, and learns "sold out" without reloading."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .factories import PASSWORD, make_members, make_merchant
from .roomkit import claim, join, me, queue_sale


def login(page, live_server, card_no, target):
    page.goto(f"{live_server}/m/login?next={target}")
    page.get_by_test_id("username").fill(card_no)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()


def test_member_waits_in_the_room_and_claims_when_admitted(app_ctx, client, live_server, page):
    _, owner = make_merchant()
    make_members(1)
    # 12 s: the login and the join must happen before the start even on a loaded machine (at 4 s
    # a login that took longer missed the "drawn at random" state)
    sale = queue_sale(client, owner, starts_in=12, total_stock=3, admission_rate=50)
    login(page, live_server, "62220" + "0" * 11, f"/m/sales/{sale}")
    expect(page.get_by_test_id("sale-mode")).to_contain_text("Waiting room")
    expect(page.get_by_test_id("snap")).to_be_hidden()
    page.get_by_test_id("join").click()
    expect(page.get_by_test_id("room-state")).to_contain_text("drawn at random")
    expect(page.get_by_test_id("join")).to_be_hidden()
    # At the start the place is drawn and, with stock to spare, the member is let in at once.
    expect(page.get_by_test_id("room-place")).to_have_text("1", timeout=25_000)
    expect(page.get_by_test_id("room-state")).to_contain_text("your turn", timeout=25_000)
    expect(page.get_by_test_id("room-wait")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    page.get_by_test_id("snap").click()
    expect(page.get_by_test_id("voucher-code")).to_have_text(re.compile(r"^[0-9A-Z]{16}$"))


def test_member_further_back_sees_the_queue_then_sold_out(app_ctx, client, live_server, page):
    _, owner = make_merchant()
    _browser_member, *others = make_members(4)
    sale = queue_sale(client, owner, total_stock=1, admission_rate=50, over_admission=1.0)
    for _, token in others:  # three members came first: places 1-3, one of them let in
        join(client, sale, token)
    login(page, live_server, "62220" + "0" * 11, f"/m/sales/{sale}")
    page.get_by_test_id("join").click()
    expect(page.get_by_test_id("room-place")).to_have_text("4")
    expect(page.get_by_test_id("room-ahead")).to_have_text("2")
    expect(page.get_by_test_id("room-state")).to_contain_text("not be enough tickets")
    expect(page.get_by_test_id("room-progress")).to_be_visible()
    expect(page.get_by_test_id("snap")).to_be_hidden()
    # The admitted member takes the only ticket: the page learns it on its next poll.
    admitted = [t for _, t in others if me(client, sale, t).get_json()["state"] == "admitted"]
    assert len(admitted) == 1
    assert claim(client, sale, admitted[0], me(client, sale, admitted[0]).get_json()["pass"]) \
        .status_code == 201  # fmt: skip
    expect(page.get_by_test_id("room-state")).to_contain_text("Sold out", timeout=10_000)
    expect(page.get_by_test_id("snap")).to_be_hidden()
