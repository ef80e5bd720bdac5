"""A member logs in, opens the live sale, snaps up a ticket, sees the QR; a second press is
answered "already claimed"; the voucher shows in the wallet (券包) once the drain has run."""

from playwright.sync_api import expect

from .factories import PASSWORD, create_sale, make_members, make_merchant


def test_member_snaps_up_a_ticket_in_the_browser(app_ctx, client, live_server, page, drain):
    _, owner = make_merchant()
    make_members(1)
    sale = create_sale(client, owner, total_stock=3)
    card_no = "62220" + "0" * 11
    page.goto(f"{live_server}/m/login?next=/m/sales")
    page.get_by_test_id("username").fill(card_no)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id(f"sale-{sale}")).to_contain_text("Free movie ticket")
    page.get_by_test_id(f"sale-{sale}").locator("a").click()
    page.get_by_test_id("snap").click()
    code = page.get_by_test_id("voucher-code")
    expect(code).to_have_text(__import__("re").compile(r"^[0-9A-Z]{16}$"))
    expect(page.get_by_test_id("voucher-qr")).to_be_visible()
    expect(page.get_by_test_id("snap")).to_be_enabled()
    voucher = code.inner_text()
    page.get_by_test_id("snap").click()
    expect(page.get_by_test_id("result")).to_contain_text("already claimed")
    drain()
    page.get_by_test_id("nav-wallet").click()  # 券包 (Wallet)
    expect(page.get_by_test_id(f"voucher-{voucher}").locator("img.qr-img")).to_be_visible()
