"""On a phone (390x844, zh-CN): the QR shown right after winning loads as an image; the stock
left moves without a reload; a second press still shows the won code and links to it in 券包; the
button stays inactive until the sale opens (issue #18)."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from marketplace.models import utcnow

from .factories import PASSWORD, create_sale, make_members, make_merchant

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "zh-CN"}


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def _login(phone, live_server, next_url):
    phone.goto(f"{live_server}/m/login?next={next_url}")
    phone.get_by_test_id("username").fill("62220" + "0" * 11)
    phone.get_by_test_id("password").fill(PASSWORD)
    phone.get_by_test_id("submit").click()


def test_won_qr_loads_and_second_press_links_to_the_voucher_in_the_wallet(
    app_ctx, client, live_server, phone
):
    _, owner = make_merchant()
    make_members(1)
    sale = create_sale(client, owner, total_stock=3)
    _login(phone, live_server, f"/m/sales/{sale}")
    expect(phone.get_by_test_id("left")).to_have_text("3")
    phone.get_by_test_id("snap").click()
    qr = phone.get_by_test_id("voucher-qr")
    expect(qr).to_be_visible()
    # Decoded as an image (a broken SVG leaves naturalWidth at 0 and shows the alt text).
    phone.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=qr.element_handle(), timeout=5000
    )
    code = phone.get_by_test_id("voucher-code").inner_text()
    expect(phone.get_by_test_id("left")).to_have_text("2", timeout=10_000)
    phone.get_by_test_id("snap").click()
    expect(phone.get_by_test_id("result")).to_contain_text("已领取")
    expect(phone.get_by_test_id("voucher-code")).to_have_text(code)
    link = phone.get_by_test_id("to-vouchers")
    expect(link).to_be_visible()
    link.click()
    expect(phone).to_have_url(f"{live_server}/m/wallet/{code}")  # the voucher in 券包
    expect(phone.get_by_test_id("voucher-code")).to_have_text(code)


def test_snap_button_is_inactive_before_the_sale_opens(app_ctx, client, live_server, phone):
    _, owner = make_merchant()
    make_members(1)
    later = utcnow() + timedelta(hours=1)
    sale = create_sale(client, owner, starts_at=later.isoformat())
    _login(phone, live_server, f"/m/sales/{sale}")
    expect(phone.get_by_test_id("snap")).to_be_disabled()
    expect(phone.locator("#countdown")).not_to_be_empty()


def test_sales_list_countdown_is_labelled(app_ctx, client, live_server, phone):
    _, owner = make_merchant()
    make_members(1)
    later = utcnow() + timedelta(hours=1)
    sale = create_sale(client, owner, starts_at=later.isoformat())
    _login(phone, live_server, "/m/sales")
    expect(phone.get_by_test_id(f"countdown-{sale}")).to_have_text(
        re.compile(r"^距开始 (\d+:)?\d\d:\d\d$")
    )


def test_a_ticket_won_on_another_phone_is_shown_instead_of_the_button(
    app_ctx, client, live_server, phone, drain
):
    """The sale page asks the live pool (one HGET) how many tickets the member holds: a member
    who won elsewhere sees that, with the way to 券包, not the button; after the ticket is
    cancelled the button is back."""
    from .factories import bearer

    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=3)
    won = client.post(f"/api/v1/flashsales/{sale}/claims",
                      headers={**bearer(token), "Idempotency-Key": "other-phone"})  # fmt: skip
    assert won.status_code == 201, won.get_json()
    drain()  # in SQL, so the member can cancel it below
    _login(phone, live_server, f"/m/sales/{sale}")
    expect(phone.get_by_test_id("result")).to_contain_text("已领取")
    expect(phone.get_by_test_id("snap")).to_be_hidden()
    expect(phone.get_by_test_id("to-vouchers")).to_have_attribute("href", "/m/wallet")
    code = won.get_json()["voucher"]["code"]
    cancelled = client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200, cancelled.get_json()
    phone.reload()
    expect(phone.get_by_test_id("snap")).to_be_visible()
    expect(phone.get_by_test_id("result")).to_have_text("")
