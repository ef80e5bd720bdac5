"""In Chromium against gunicorn: a member applies for medical aid on a phone (390x844, zh-CN)
with a PDF; a city reviewer checks and approves it on a desktop; the member sees it approved."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.catalogue import factories as f

from .conftest import AID, PDF, admin_token, create_fund, create_service, make_member


def log_in(page, url, username, password):
    page.goto(url)
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()


def test_member_applies_on_a_phone_and_a_reviewer_approves_on_a_desktop(
    app_ctx, client, live_server, browser, tmp_path
):
    admin = admin_token()
    fund = create_fund(client, admin, budget_cents=1_000_000)
    service = create_service(client, admin, AID, fund["id"])
    _m, _token, card = make_member(password=True)
    scan = tmp_path / "出院小结.pdf"
    scan.write_bytes(PDF)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    log_in(page, f"{live_server}/m/login?next=/m/services", card, f.PASSWORD)
    expect(page).to_have_url(re.compile(r"/m/services$"))
    expect(page.locator("h1")).to_have_text("工会服务")
    expect(
        page.get_by_test_id(f"service-{service['id']}").get_by_test_id("eligible")
    ).to_be_visible()
    page.get_by_test_id(f"service-{service['id']}").get_by_role("link").first.click()
    page.get_by_test_id("amount").fill("1500")
    page.get_by_test_id("a_hospital").fill("河北省第二医院")
    page.get_by_test_id("documents").set_input_files(str(scan))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("submitted")).to_have_text("您的申请已提交。")
    expect(page.get_by_test_id("status")).to_have_text("等待基层工会初审")
    app_url = page.url

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    review = desktop.new_page()
    from marketplace.auth.models import Account
    from marketplace.extensions import db

    db.session.execute(db.update(Account).where(Account.username == "cityadmin")
                       .values(password_hash=f.password_hash()))  # fmt: skip
    db.session.commit()
    log_in(review, f"{live_server}/admin/login?next=/admin/services/reviews", "cityadmin",
           f.PASSWORD)  # fmt: skip
    expect(review).to_have_url(re.compile(r"/admin/services/reviews$"))
    row = review.locator("[data-testid^=queue-]").first
    row.get_by_role("link").click()
    with review.expect_download() as download:
        review.get_by_test_id("documents").get_by_role("link").first.click()
    assert Path(download.value.path()).read_bytes() == PDF
    review.get_by_test_id("decide").click()  # the first choice: checked, on to the city
    expect(review).to_have_url(re.compile(r"/admin/services/reviews$"))
    review.locator("[data-testid^=queue-]").first.get_by_role("link").click()
    review.get_by_test_id("amount").fill("1200")
    review.get_by_test_id("decide").click()
    expect(review.locator(".flash-success")).to_have_text("审核决定已记录。")
    review.goto(f"{live_server}/admin/funds/{fund['id']}")
    expect(review.get_by_test_id("committed")).to_have_text("¥1,200.00")

    page.goto(app_url)
    expect(page.get_by_test_id("status")).to_have_text("已批准")
    expect(page.get_by_test_id("approved")).to_have_text("¥1,200.00")
    phone.close()
    desktop.close()
