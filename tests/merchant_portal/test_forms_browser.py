"""Issue #18 item 5 in Chromium: regions picked by name on a phone, the approve confirmation
(cancel keeps the merchant pending), the roster template download, the shop profile and the
dashboard's columns at 390 px."""

import re
import struct
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.merchants import Merchant
from tests.flashsale.factories import PASSWORD, create_sale, make_merchant

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def png(width=4, height=3) -> bytes:
    """A real (decodable) red PNG, so the page's <img> has a size."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\xff\0\0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True,
                                  accept_downloads=True)  # fmt: skip
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  accept_downloads=True)  # fmt: skip
    yield context.new_page()
    context.close()


def log_in(page, base, where, username, password=PASSWORD):
    page.goto(f"{base}{where}")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_application_region_by_name_and_approve_asks_first(app_ctx, live_server, phone, desktop,
                                                           admin):  # fmt: skip
    phone.goto(f"{live_server}/merchant/apply")
    for name, value in {
        "business_name": "裕华影城", "licence_no": "91130108MA1FPX1234", "address": "裕华路 1 号",
        "contact_name": "王经理", "contact_phone": "13800001111",
        "owner_username": "yuhua", "owner_password": "yuhua-pass-1",
    }.items():  # fmt: skip
        phone.get_by_test_id(name).fill(value)
    phone.get_by_test_id("category").select_option("cinema")
    phone.get_by_test_id("region").select_option(label="裕华区")
    phone.get_by_test_id("submit").click()
    expect(phone.get_by_test_id("applied")).to_contain_text("裕华影城")
    merchant = db.session.scalars(db.select(Merchant).where(Merchant.name_zh == "裕华影城")).one()
    assert merchant.region == "130108"  # the server still gets the code

    log_in(desktop, live_server, "/admin/login", "root")
    desktop.goto(f"{live_server}/admin/merchants/{merchant.id}")
    expect(desktop.locator(".facts")).to_contain_text("裕华区")
    asked = []
    desktop.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    desktop.get_by_test_id("approve").click()
    desktop.wait_for_timeout(300)
    assert asked and "通过" in asked[0]
    desktop.reload()
    expect(desktop.get_by_test_id("status")).to_have_text("待审核")
    db.session.expire_all()
    assert db.session.get(Merchant, merchant.id).status == "pending"
    desktop.once("dialog", lambda d: d.accept())
    desktop.get_by_test_id("approve").click()
    expect(desktop.get_by_test_id("status")).to_have_text("已批准")


def test_sale_regions_ticked_by_name_on_a_phone(app_ctx, live_server, phone):
    make_merchant(username="owner1")
    log_in(phone, live_server, "/merchant/login", "owner1")
    phone.goto(f"{live_server}/merchant/sales/new")
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    for name, value in {
        "title": "周末电影", "total_stock": "50", "per_member_limit": "1",
        "starts_at": local(now + timedelta(days=1)), "ends_at": local(now + timedelta(days=2)),
        "valid_from": local(now + timedelta(days=1)), "valid_until": local(now + timedelta(days=9)),
    }.items():  # fmt: skip
        phone.get_by_test_id(name).fill(value)
    phone.get_by_label("长安区").check()
    phone.locator("summary", has_text="北京市").click()  # the other cities start folded
    phone.get_by_label("朝阳区").check()
    phone.get_by_test_id("save").click()
    expect(phone).to_have_url(re.compile(r"/merchant/sales/\d+$"))
    expect(phone.locator("dd", has_text="长安区")).to_have_text("长安区、朝阳区")
    phone.goto(phone.url + "/edit")
    expect(phone.get_by_label("长安区")).to_be_checked()
    expect(phone.locator("summary", has_text="北京市")).to_contain_text("已选 1 个")


def test_roster_template_downloads_with_the_importers_headers(app_ctx, live_server, desktop,
                                                             admin):  # fmt: skip
    log_in(desktop, live_server, "/admin/login", "root")
    desktop.goto(f"{live_server}/admin/imports")
    with desktop.expect_download() as info:
        desktop.get_by_test_id("roster-template").click()
    download = info.value
    assert download.suggested_filename == "roster-template.csv"
    data = open(download.path(), "rb").read()  # noqa: PTH123, SIM115
    assert data.startswith(b"\xef\xbb\xbf")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header == ("卡号 card_no,姓名 name,身份证号 id_number,手机号 phone,所属工会 branch,"
                      "地区代码 region,困难职工 hardship")  # fmt: skip


def test_import_page_shows_refused_rows_once_the_import_finishes(app_ctx, live_server, desktop,
                                                                admin, tmp_path):  # fmt: skip
    """The page opened while the import waits reloads by itself when it is done and lists
    the refused rows with their reasons in Chinese."""
    from marketplace.members.jobs import run_import
    from marketplace.members.models import MemberImport
    from tests.members.helpers import details
    from tests.members.test_import import roster

    upload = tmp_path / "roster.csv"
    upload.write_bytes(roster([details(1), details(2) | {"region": "999999"}]))
    log_in(desktop, live_server, "/admin/login", "root")
    desktop.goto(f"{live_server}/admin/imports")
    desktop.locator("input[type=file]").set_input_files(str(upload))
    desktop.get_by_test_id("upload").click()
    expect(desktop).to_have_url(re.compile(r"/admin/imports/\d+$"))
    expect(desktop.get_by_test_id("rejected-rows")).to_have_count(0)
    db.session.rollback()
    run_import(db.session.scalars(db.select(MemberImport.id)).one())
    expect(desktop.get_by_test_id("status")).to_have_text("已完成")
    row = desktop.locator("[data-testid=rejected-rows] tr[data-row='3']")
    expect(row).to_contain_text("未知的地区代码")
    expect(desktop.get_by_test_id("reject-reasons")).to_contain_text("未知的地区代码 · 1 行")


def _menu_rows(page) -> float:
    """How many rows of links the header's menu takes (its height over one link's)."""
    return page.evaluate("""() => {
        const nav = document.querySelector('.topbar .nav');
        const link = nav.querySelector('a');
        return nav.getBoundingClientRect().height / link.getBoundingClientRect().height;
    }""")


def test_portal_menu_is_one_scrolling_row_on_a_phone(app_ctx, live_server, phone, admin):
    """An owner's ten menu entries wrapped to four rows on a 390 px phone; now one row that
    scrolls sideways, every entry still reachable by tapping."""
    make_merchant(username="owner1")
    log_in(phone, live_server, "/merchant/login", "owner1")
    assert _menu_rows(phone) < 1.6
    scrolls = phone.evaluate("() => { const n = document.querySelector('.topbar .nav');"
                             " return n.scrollWidth > n.clientWidth; }")  # fmt: skip
    assert scrolls  # the entries do not fit: the row scrolls instead of wrapping
    phone.get_by_test_id("nav-redemptions").tap()  # the last entry, off screen at first
    expect(phone).to_have_url(re.compile(r"/merchant/redemptions"))
    brand, lang = phone.locator(".topbar .brand"), phone.locator(".topbar .lang")
    assert abs(brand.bounding_box()["y"] - lang.bounding_box()["y"]) < 10  # one first row
    phone.context.clear_cookies()
    log_in(phone, live_server, "/admin/login", "root")
    assert _menu_rows(phone) < 1.6


def test_shop_profile_saves_on_a_phone(app_ctx, live_server, phone):
    make_merchant(username="owner1")
    log_in(phone, live_server, "/merchant/login", "owner1")
    phone.get_by_test_id("nav-profile").click()
    phone.get_by_test_id("opening_hours").fill("每天 10:00–22:00")
    phone.get_by_test_id("contact_phone").fill("0311-8888 6666")
    phone.get_by_test_id("address").fill("中山路 1 号")
    phone.get_by_test_id("photo").set_input_files(
        {"name": "shop.png", "mimeType": "image/png", "buffer": png()}
    )
    phone.get_by_test_id("save").click()
    expect(phone.locator(".flash-success")).to_contain_text("门店信息已保存")
    expect(phone.get_by_test_id("opening_hours")).to_have_value("每天 10:00–22:00")
    expect(phone.get_by_test_id("address")).to_have_value("中山路 1 号")
    photo = phone.get_by_test_id("shop-photo")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.naturalWidth") == 4


def test_dashboard_titles_keep_their_width_on_a_phone(app_ctx, client, live_server, phone):
    _, token = make_merchant(username="owner1")
    sale = create_sale(client, token, title="周六晚场《流浪地球》IMAX 免费观影券")
    log_in(phone, live_server, "/merchant/login", "owner1")
    phone.goto(f"{live_server}/merchant/")
    title = phone.get_by_test_id(f"row-{sale}").locator("td").first
    box = title.bounding_box()
    assert box["width"] >= 140, box  # was one character (about 20 px) wide
    line = phone.evaluate("() => parseFloat(getComputedStyle(document.body).lineHeight) || 24")
    assert box["height"] < 4 * line, box
    for header in phone.locator("thead th").all():
        assert header.bounding_box()["height"] < 2 * line  # headers on one line
    # the page itself does not scroll sideways: the table scrolls in its box
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390


def test_sale_rule_saves_from_its_row_and_removal_asks_first(app_ctx, live_server, phone, admin):
    """The quota table's boxes belong to their row's form (a <form> inside a <tr> is not valid
    HTML); Remove asks before it deletes, Save does not."""
    from flashsale import quotas

    log_in(phone, live_server, "/admin/login", "root")
    phone.goto(f"{live_server}/admin/sale-rules")
    assert phone.title().startswith("限额与爽约")
    row = phone.get_by_test_id("rule-movie")
    row.locator("input[name=monthly_limit]").fill("3")
    row.locator("input[name=ban_days]").fill("30")
    phone.get_by_test_id("save-movie").click()  # a ban length without a no-show count
    expect(phone.locator(".flash-error")).to_contain_text("须同时填写或同时留空")
    row = phone.get_by_test_id("rule-movie")
    row.locator("input[name=monthly_limit]").fill("3")
    row.locator("input[name=no_show_limit]").fill("2")
    row.locator("input[name=ban_days]").fill("30")
    asked, answers = [], ["dismiss", "accept"]

    def answer(dialog):
        asked.append(dialog.message)
        getattr(dialog, answers.pop(0))()

    phone.on("dialog", answer)
    phone.get_by_test_id("save-movie").click()
    expect(phone.locator(".flash-success")).to_be_visible()
    db.session.rollback()
    assert [(r.scope, r.monthly_limit, r.ban_days) for r in quotas.rules()] == [("movie", 3, 30)]
    assert asked == []  # saving asks nothing
    phone.get_by_test_id("remove-movie").click()  # dismissed: nothing removed
    expect(phone.get_by_test_id("remove-movie")).to_be_visible()
    assert len(asked) == 1 and "电影" in asked[0]
    db.session.rollback()
    assert len(quotas.rules()) == 1
    phone.get_by_test_id("remove-movie").click()  # accepted
    expect(phone.locator(".flash-success")).to_contain_text("规则已删除")
    assert len(asked) == 2
    db.session.rollback()
    assert quotas.rules() == []
