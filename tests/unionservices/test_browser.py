"""In Chromium against gunicorn: a member applies for medical aid on a phone (390x844, zh-CN)
with a PDF; a city reviewer checks and approves it on a desktop; the member sees it approved.
A branch admin checks its own branch's application, and the city approves it."""

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


def test_branch_admin_checks_its_branch_and_the_city_approves(
    app_ctx, client, live_server, browser
):
    """Desktop, zh-CN: branch A's admin sees A's application only (not the one of a branch with
    the same name in another district), checks it, and has no form for the city decision; the
    city admin then approves it."""
    from marketplace import orgs
    from marketplace.auth.models import Account
    from marketplace.auth.services import create_account
    from marketplace.extensions import db
    from marketplace.members.models import Member

    from .conftest import apply

    admin = admin_token()
    fund = create_fund(client, admin, budget_cents=1_000_000)
    service = create_service(client, admin, AID, fund["id"])
    ids = {}
    for key, region in (("A", "130102"), ("C", "130104")):
        member_id, token, _card = make_member(branch="一分会", region=region)
        db.session.get(Member, member_id).org_id = orgs.ensure_branch(region, "一分会")
        db.session.commit()
        ids[key] = apply(client, token, service["id"], amount_cents=150_000).get_json()["id"]
    create_account(
        "admin-a", f.PASSWORD, "branch_admin", org_id=orgs.ensure_branch("130102", "一分会")
    )
    db.session.execute(db.update(Account).where(Account.username == "cityadmin")
                       .values(password_hash=f.password_hash()))  # fmt: skip
    db.session.commit()

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desktop.new_page()
    log_in(page, f"{live_server}/admin/login?next=/admin/services/reviews", "admin-a", f.PASSWORD)
    expect(page).to_have_url(re.compile(r"/admin/services/reviews$"))
    expect(page.locator("[data-testid^=queue-]")).to_have_count(1)
    expect(page.get_by_test_id(f"queue-{ids['A']}")).to_be_visible()
    expect(page.get_by_test_id("nav-funds")).to_have_count(0)  # city-only pages hidden
    page.get_by_test_id(f"queue-{ids['A']}").get_by_role("link").click()
    page.get_by_test_id("decide").click()  # the first choice: checked, on to the city
    expect(page.locator(".flash-success")).to_have_text("审核决定已记录。")
    expect(page.locator("[data-testid^=queue-]")).to_have_count(0)
    page.goto(f"{live_server}/admin/services/applications/{ids['A']}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "checked")
    expect(page.get_by_test_id("decision-form")).to_have_count(0)  # the city decides
    other = page.goto(f"{live_server}/admin/services/applications/{ids['C']}")
    assert other.status == 404  # same branch name, another district
    desktop.close()

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    city = desktop.new_page()
    log_in(city, f"{live_server}/admin/login?next=/admin/services/reviews?step=city",
           "cityadmin", f.PASSWORD)  # fmt: skip
    city.get_by_test_id(f"queue-{ids['A']}").get_by_role("link").click()
    city.get_by_test_id("amount").fill("1000")
    city.get_by_test_id("decide").click()
    expect(city.locator(".flash-success")).to_have_text("审核决定已记录。")
    city.goto(f"{live_server}/admin/funds/{fund['id']}")
    expect(city.get_by_test_id("committed")).to_have_text("¥1,000.00")
    desktop.close()
