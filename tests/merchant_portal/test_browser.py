"""The whole merchant story in Chromium against gunicorn, with a real RQ worker persisting the
claim: apply -> approve -> publish -> a member claims (API) -> the dashboard shows it live ->
a clerk redeems at the counter -> a second redeem is red "Already redeemed"."""

import json
import re
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from flashsale.jobs import drain_outbox
from marketplace.auth.models import Account
from marketplace.extensions import get_queue
from tests.conftest import start_worker
from tests.flashsale.factories import PASSWORD, make_members

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def fill(page, values: dict) -> None:
    for name, value in values.items():
        page.get_by_test_id(name).fill(value)


def api_claim(base: str, sale: int, token: str) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/flashsales/{sale}/claims", method="POST",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "browser-claim-1"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        assert resp.status == 201
        return json.load(resp)


def log_in(page, base, where, username, password):
    page.goto(f"{base}{where}")
    fill(page, {"username": username, "password": password})
    page.get_by_test_id("submit").click()


def test_merchant_story_in_the_browser(app_ctx, app_config, live_server, page, admin):
    base = live_server
    ((_, member_token),) = make_members(1)
    page.goto(f"{base}/lang/en?next=/merchant/apply")
    fill(page, {
        "business_name": "星光影城", "licence_no": "91310101MA1FPX1234",
        "address": "南京东路 1 号", "contact_name": "王经理", "contact_phone": "13800001111",
        "owner_username": "starlight", "owner_password": "starlight-pass",
    })  # fmt: skip
    page.get_by_test_id("category").select_option("cinema")
    page.get_by_test_id("region").select_option(label="Yuhua District")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("applied")).to_contain_text("星光影城")

    log_in(page, base, "/admin/login", "root", PASSWORD)
    page.get_by_test_id("queue").click()
    page.get_by_role("link", name="星光影城").click()
    page.once("dialog", lambda dialog: dialog.accept())  # "Approve this merchant?"
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    page.get_by_test_id("logout").click()

    log_in(page, base, "/merchant/login", "starlight", "starlight-pass")
    page.get_by_test_id("new-sale").click()
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    fill(page, {
        "title": "周六免费电影票", "title_en": "Free Saturday movie", "total_stock": "500",
        "per_member_limit": "1", "venue": "一号厅",
        "starts_at": local(now - timedelta(minutes=1)), "ends_at": local(now + timedelta(hours=2)),
        "valid_from": local(now - timedelta(minutes=1)),
        "valid_until": local(now + timedelta(days=7)),
    })  # fmt: skip
    page.get_by_test_id("category").select_option("movie")
    page.get_by_test_id("save").click()
    sale = int(re.search(r"/merchant/sales/(\d+)$", page.url).group(1))
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("status")).to_have_text("Live")

    page.goto(f"{base}/merchant/")
    expect(page.get_by_test_id(f"claimed-{sale}")).to_have_text("0")
    code = api_claim(base, sale, member_token)["voucher"]["code"]
    expect(page.get_by_test_id(f"claimed-{sale}")).to_have_text("1")  # polled, no reload
    expect(page.get_by_test_id(f"remaining-{sale}")).to_have_text("499")

    get_queue("high").enqueue(drain_outbox)  # the scheduler does this every 2 s in production
    worker = start_worker(app_config, "--burst")
    assert worker.wait(60) == 0

    page.get_by_test_id("nav-staff").click()
    fill(page, {"username": "door-clerk", "password": "door-clerk-pass"})
    page.get_by_test_id("add-clerk").click()
    expect(page.get_by_test_id("clerk-door-clerk")).to_be_visible()
    page.get_by_test_id("logout").click()

    log_in(page, base, "/merchant/login", "door-clerk", "door-clerk-pass")
    expect(page).to_have_url(re.compile(r"/merchant/counter$"))
    page.get_by_test_id("code").fill(code.lower())
    page.get_by_test_id("check").click()
    page.get_by_test_id("confirm").click()
    result = page.get_by_test_id("result")
    expect(result).to_contain_text("Redeemed")
    expect(result).to_have_attribute("data-result", "ok")
    expect(page.get_by_test_id("recent")).to_contain_text(code)

    page.get_by_test_id("code").fill(code)
    page.get_by_test_id("check").click()
    expect(result).to_contain_text("Already redeemed")
    expect(result).to_have_attribute("data-result", "bad")
    expect(result).to_have_css("color", "rgb(200, 16, 46)")


def test_owner_creates_a_groupbuy_members_then_see(app_ctx, live_server, page):
    """Owner fills the group-buy form in Chromium; a member finds the deal on /m/groupbuys."""
    from marketplace.extensions import db
    from marketplace.merchants import Merchant
    from tests.catalogue import factories as f

    merchant, _owner, _ = f.merchant("星光影城", category="cinema")
    owner = db.session.scalar(
        db.select(Account).where(
            Account.merchant_id == merchant.id, Account.role == "merchant_owner"
        )
    )
    owner.password_hash = f.password_hash()
    db.session.commit()
    _, _, card = f.member(password=True)
    assert db.session.get(Merchant, merchant.id).region == f.HOME

    log_in(page, live_server, "/merchant/login", owner.username, f.PASSWORD)
    page.get_by_test_id("nav-groupbuys").click()
    page.get_by_test_id("new-groupbuy").click()
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    fill(page, {
        "title": "双人观影套餐", "member_price": "59.9", "usual_price": "120",
        "min_participants": "2", "max_participants": "10",
        "opens_at": local(now - timedelta(minutes=1)), "deadline": local(now + timedelta(days=1)),
        "voucher_valid_until": local(now + timedelta(days=30)),
    })  # fmt: skip
    page.get_by_test_id("category").select_option("cinema")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(re.compile(r"/merchant/groupbuys/\d+$"))
    deal = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("state")).to_have_class(re.compile("badge-open"))
    page.get_by_test_id("logout").click()

    page.goto(f"{live_server}/m/login?next=/m/groupbuys")
    page.get_by_test_id("username").fill(card)
    page.get_by_test_id("password").fill(f.PASSWORD)
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id(f"groupbuy-{deal}")).to_contain_text("双人观影套餐")
