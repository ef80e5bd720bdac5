"""Reminders in Chromium (phone): a member taps "remind me" on a sale that opens in an hour; when
the reminder job runs, the notice is in their inbox, the sale's <script>/onerror= title inert."""

from datetime import timedelta

from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.models import utcnow
from messaging import jobs
from messaging.models import Reminder
from tests.flashsale.factories import PASSWORD, create_sale, make_members, make_merchant

TITLE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>电影'


def test_remind_me_on_a_phone_then_the_notice(app_ctx, client, live_server, browser):
    _m, owner = make_merchant()
    make_members(1)
    now = utcnow()
    sale = create_sale(client, owner, title=TITLE, starts_at=(now + timedelta(hours=1)).isoformat(),
                       valid_from=now.isoformat())  # fmt: skip
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True)  # fmt: skip
    page = context.new_page()
    page.goto(f"{live_server}/m/login?next=/m/sales/{sale}")
    page.get_by_test_id("username").fill("62220" + "0" * 11)
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("remind").click()
    expect(page.get_by_test_id("remind-state")).to_contain_text("10")
    expect(page.get_by_test_id("remind")).to_be_hidden()
    db.session.expire_all()
    assert db.session.scalar(db.select(Reminder.status)) == "pending"

    from flashsale.models import Campaign

    db.session.execute(db.update(Reminder).values(remind_at=utcnow()))
    db.session.get(Campaign, sale).starts_at = utcnow() + timedelta(minutes=9)
    db.session.commit()
    assert jobs.send_reminders("sale", sale) == {"sent": 1}
    page.goto(f"{live_server}/m/messages")
    expect(page.get_by_test_id("notice-text")).to_have_text(f"“{TITLE}”将在 10 分钟后开抢。")
    assert page.evaluate("window.__xss") is None
    context.close()
