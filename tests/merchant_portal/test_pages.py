"""Portal and console pages with the test client: forms, Beijing times, covers, counter, charts,
staff, imports with progress and rejected rows, cards, and the two languages."""

import io
import re
from datetime import UTC, datetime

from flashsale.models import Campaign
from marketplace.extensions import db
from marketplace.models import AuditEvent
from merchant_portal.models import CoverImage
from tests.flashsale.factories import create_sale

from .test_onboarding import claim

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
SALE = {
    "title": "周六电影", "category": "movie", "total_stock": "500", "per_member_limit": "2",
    "starts_at": "2030-06-01T10:00", "ends_at": "2030-06-01T12:00",
    "valid_from": "2030-06-01T10:00", "valid_until": "2030-06-08T22:00",
    "regions": "310101，310104", "require_active_card": "y",
}  # fmt: skip


def test_portal_is_chinese_by_default_and_english_on_request(client):
    zh = client.get("/merchant/apply").get_data(as_text=True)
    assert 'lang="zh-CN"' in zh
    en = client.get("/merchant/apply?lang=en").get_data(as_text=True)
    assert "Apply to sell on Shihui" in en


def test_application_form_shows_field_errors_and_then_succeeds(web, admin):
    resp = web.post("/merchant/apply", {"business_name": "小店", "region": "31"})
    assert resp.status_code == 422
    good = {
        "business_name": "小店", "licence_no": "91310101MA1FPX0001", "category": "dining",
        "region": "310101", "address": "某路 1 号", "contact_name": "李",
        "contact_phone": "13800000000",
        "owner_username": "xiaodian", "owner_password": "xiaodian-pass",
    }  # fmt: skip
    assert web.post("/merchant/apply", good).status_code == 201
    taken = web.post("/merchant/apply", good | {"licence_no": "91310101MA1FPX0002"})
    assert taken.status_code == 409
    assert "xiaodian" in taken.get_data(as_text=True)  # the form keeps what was typed


def test_sale_form_takes_beijing_time_and_explains_mistakes(web, shop):
    web.login("owner1")
    bad = web.post("/merchant/sales/new?lang=en", SALE | {"ends_at": "2030-06-01T09:00"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "The sale must close after it opens." in page  # the reason, on the re-shown form
    assert 'value="2030-06-01T09:00"' in page  # with what was typed
    assert db.session.scalars(db.select(Campaign)).first() is None
    resp = web.post("/merchant/sales/new", SALE)
    assert resp.status_code == 302
    campaign = db.session.scalars(db.select(Campaign)).one()
    assert campaign.starts_at == datetime(2030, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert campaign.regions == ["310101", "310104"] and campaign.status == "draft"
    edit = web.get(f"/merchant/sales/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="2030-06-01T10:00"' in edit


def test_cover_upload_checks_size_and_type(web, shop, app):
    web.login("owner1")
    fake = web.post("/merchant/sales/new", SALE | {"cover": (io.BytesIO(b"GIF89a..."), "a.png")},
                    content_type="multipart/form-data")  # fmt: skip
    assert fake.status_code == 422
    app.config["COVER_MAX_BYTES"] = 100
    big = web.post("/merchant/sales/new", SALE | {"cover": (io.BytesIO(PNG * 3), "a.png")},
                   content_type="multipart/form-data")  # fmt: skip
    assert big.status_code == 422
    app.config["COVER_MAX_BYTES"] = 512 * 1024
    ok = web.post("/merchant/sales/new", SALE | {"cover": (io.BytesIO(PNG), "a.png")},
                  content_type="multipart/form-data")  # fmt: skip
    assert ok.status_code == 302
    campaign = db.session.scalars(db.select(Campaign)).one()
    image = db.session.scalars(db.select(CoverImage)).one()
    assert campaign.image_url.endswith(f"/merchant/media/covers/{image.id}")
    served = web.get(f"/merchant/media/covers/{image.id}")
    assert served.mimetype == "image/png" and served.data == PNG
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_publish_top_up_duplicate_and_cancel(client, web, shop, member):
    _, owner, _ = shop
    web.login("owner1")
    sale = create_sale(client, owner, publish=False, total_stock=3)
    assert web.post(f"/merchant/sales/{sale}/publish").status_code == 302
    assert web.get(f"/merchant/sales/{sale}/live.json").get_json()["status"] == "live"
    assert claim(client, sale, member[1]).status_code == 201
    web.post(f"/merchant/sales/{sale}/top-up", {"add": "7"})
    live = web.get(f"/merchant/sales/{sale}/live.json").get_json()
    assert (live["stock"], live["claimed"], live["remaining"]) == (10, 1, 9)
    resp = web.post(f"/merchant/sales/{sale}/duplicate")
    copy_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    copy = db.session.get(Campaign, copy_id)
    original = db.session.get(Campaign, sale)
    assert copy.status == "draft" and copy.total_stock == 10
    assert copy.starts_at > original.starts_at and copy.starts_at.weekday() == (
        original.starts_at.weekday()
    )
    assert web.post(f"/merchant/sales/{sale}/cancel").status_code == 302
    assert web.get(f"/merchant/sales/{sale}/live.json").get_json()["status"] == "cancelled"
    actions = set(db.session.scalars(db.select(AuditEvent.action)))
    assert {
        "campaign.publish",
        "campaign.patch",
        "campaign.duplicate",
        "campaign.cancel",
    } <= actions


def test_charts_are_svg_drawn_on_the_server(client, web, shop, member, drain):
    _, owner, clerk = shop
    sale = create_sale(client, owner)
    claim(client, sale, member[1])
    drain()
    web.login("owner1")
    svg = web.get(f"/merchant/sales/{sale}/claims.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data and b"<script" not in svg.data
    assert b"Claims" in web.get(f"/merchant/sales/{sale}/claims.svg?lang=en").data
    assert b"<svg" in web.get(f"/merchant/sales/{sale}/redemptions.svg").data
    page = web.get("/merchant/").get_data(as_text=True)
    assert f'data-testid="claimed-{sale}">1<' in page


def test_counter_redeem_revert_and_the_red_answers(client, web, shop, member, drain):
    _, owner, _ = shop
    sale = create_sale(client, owner)
    code = claim(client, sale, member[1]).get_json()["voucher"]["code"]
    drain()
    web.login("clerk1")
    assert web.get("/merchant/").headers["Location"].endswith("/merchant/counter")
    look = web.get(f"/merchant/counter?code={code.lower()}&lang=en").get_data(as_text=True)
    assert "Confirm redemption" in look
    key = look.split('name="key" type="hidden" value="')[1].split('"')[0]
    done = web.post("/merchant/counter/redeem", {"code": code, "key": key})
    assert done.status_code == 200 and 'data-result="ok"' in done.get_data(as_text=True)
    again = web.get(f"/merchant/counter?code={code}&lang=en")
    assert again.status_code == 409 and "Already redeemed" in again.get_data(as_text=True)
    unknown = web.get("/merchant/counter?code=ZZZZZZZZZZZZZZZZ")
    assert unknown.status_code == 404 and 'data-result="bad"' in unknown.get_data(as_text=True)
    redemption_id = int(
        done.get_data(as_text=True).split('data-testid="redemption-')[1].split('"')[0]
    )
    assert web.post(f"/merchant/redemptions/{redemption_id}/revert").status_code == 302
    assert "Confirm redemption" in web.get(f"/merchant/counter?code={code}&lang=en").get_data(
        as_text=True
    )


def test_owner_adds_and_removes_a_clerk_whose_session_then_ends(client, app, web, shop):
    web.login("owner1")
    assert (
        web.post("/merchant/staff", {"username": "door", "password": "door-pass-1"}).status_code
        == 302
    )
    clerk_client = app.test_client()
    from .conftest import Browser

    clerk = Browser(clerk_client)
    clerk.login("door", "door-pass-1")
    assert clerk.get("/merchant/counter").status_code == 200
    from marketplace.auth.models import Account

    door = db.session.scalar(db.select(Account).where(Account.username == "door"))
    assert web.post(f"/merchant/staff/{door.id}/remove").status_code == 302
    assert clerk.get("/merchant/counter").status_code == 302  # logged out: back to login


def test_admin_console_imports_show_progress_and_rejected_rows(web, admin, app_config):
    from marketplace.members.jobs import run_import

    web.login("root", where="/admin/login")
    roster = "卡号,姓名\n".encode()  # wrong header: every row rejected, or the file fails
    resp = web.post("/admin/imports", {"file": (io.BytesIO(roster + b"1,x\n"), "roster.csv")},
                    content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 302
    import_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    progress = web.get(f"/admin/imports/{import_id}/progress.json").get_json()
    assert progress["status"] == "queued"
    run_import(import_id)
    progress = web.get(f"/admin/imports/{import_id}/progress.json").get_json()
    assert progress["status"] in ("done", "failed")
    page = web.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert 'role="progressbar"' in page
    rejected = web.get(f"/admin/imports/{import_id}/rejected.csv")
    assert rejected.status_code == 200 and rejected.mimetype == "text/csv"


def test_admin_freezes_a_card(web, admin, member):
    from marketplace.members.models import Card

    card = db.session.scalars(db.select(Card)).one()
    web.login("root", where="/admin/login")
    page = web.get(f"/admin/cards?card_no={card.card_no}").get_data(as_text=True)
    assert card.card_no in page
    assert web.post("/admin/cards/freeze", {"card_no": card.card_no}).status_code == 302
    db.session.refresh(card)
    assert card.status == "frozen"


def test_sale_form_sets_the_mode_then_only_the_admission_rate_can_change(web, shop):
    """The portal's form: a waiting-room sale with its rate; once published the mode is fixed
    (not offered, and kept whatever is posted) while the rate can still change."""
    from flashsale import room
    from marketplace.extensions import get_redis

    web.login("owner1")
    queue = SALE | {"mode": "queue", "per_member_limit": "1", "admission_rate": "12.5",
                    "queue_opens_at": "2030-06-01T09:30"}  # fmt: skip
    two = web.post("/merchant/sales/new?lang=en", queue | {"per_member_limit": "2"})
    assert two.status_code == 422
    assert "A waiting-room sale gives one ticket per member." in two.get_data(as_text=True)
    assert web.post("/merchant/sales/new", queue).status_code == 302
    campaign = db.session.scalars(db.select(Campaign)).one()
    assert (campaign.mode, campaign.admission_rate) == ("queue", 12.5)
    assert campaign.queue_opens_at == datetime(2030, 6, 1, 1, 30, tzinfo=UTC)
    assert web.post(f"/merchant/sales/{campaign.id}/publish").status_code == 302
    edit = web.get(f"/merchant/sales/{campaign.id}/edit?lang=en").get_data(as_text=True)
    assert 'data-testid="mode-fixed"' in edit and 'name="mode"' not in edit
    resp = web.post(f"/merchant/sales/{campaign.id}/edit",
                    queue | {"mode": "first_come", "admission_rate": "40"})  # fmt: skip
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert (campaign.mode, campaign.admission_rate) == ("queue", 40.0)
    assert float(get_redis().hget(room.room_keys(campaign.id)[0], "rate")) == 40.0


def test_sale_form_makes_a_lottery_with_its_stated_rules(web, shop):
    """The portal's form: a lottery with a confirmation deadline, a hand-on window and weights;
    the lottery fields are ignored for other modes."""
    web.login("owner1")
    lottery = SALE | {"mode": "lottery", "per_member_limit": "1", "confirm_hours": "3",
                      "handon_until": "2030-06-02T18:00", "hardship_weight": "2",
                      "loss_weight": "1"}  # fmt: skip
    two = web.post("/merchant/sales/new?lang=en", lottery | {"per_member_limit": "2"})
    assert two.status_code == 422
    assert "A lottery gives one ticket per member." in two.get_data(as_text=True)
    early = web.post("/merchant/sales/new?lang=en", lottery | {"handon_until": "2030-06-01T11:00"})
    assert early.status_code == 422  # before the close
    assert web.post("/merchant/sales/new", lottery).status_code == 302
    campaign = db.session.scalars(db.select(Campaign)).one()
    assert (campaign.mode, campaign.confirm_hours, campaign.hardship_weight,
            campaign.loss_weight) == ("lottery", 3, 2, 1)  # fmt: skip
    assert campaign.handon_until == datetime(2030, 6, 2, 10, 0, tzinfo=UTC)
    edit = web.get(f"/merchant/sales/{campaign.id}/edit").get_data(as_text=True)
    assert 'value="2030-06-02T18:00"' in edit
    plain = SALE | {"per_member_limit": "1", "confirm_hours": "3", "title": "普通"}
    assert web.post("/merchant/sales/new", plain).status_code == 302
    other = db.session.scalars(db.select(Campaign).where(Campaign.title == "普通")).one()
    assert (other.mode, other.confirm_hours) == ("first_come", None)


def test_import_page_lists_refused_rows_with_reasons_in_chinese(web, admin, app_config):
    """Issue #18: the reasons a roster row was refused are on the import page itself, in the
    page's language, with the field named; the console's CSV carries the same words; the API's
    CSV keeps the stable English messages."""
    import csv as csv_module

    from marketplace.members.jobs import run_import
    from tests.members.helpers import details
    from tests.members.test_import import roster

    ok = details(1)
    no_phone = details(2) | {"phone": ""}
    card = details(3)["card_no"]
    bad_card = details(3) | {"card_no": card[:-1] + str((int(card[-1]) + 1) % 10)}
    bad_region = details(4) | {"region": "999999"}
    data = roster([ok, no_phone, bad_card, bad_region])
    web.login("root", where="/admin/login")
    resp = web.post("/admin/imports", {"file": (io.BytesIO(data), "roster.csv")},
                    content_type="multipart/form-data")  # fmt: skip
    import_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    waiting = web.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    assert (
        "导入完成后，此处列出被拒绝的行及原因" in waiting
        and 'data-testid="rejected-rows"' not in waiting
    )
    run_import(import_id)
    page = web.get(f"/admin/imports/{import_id}").get_data(as_text=True)
    rows = dict(
        re.findall(r'<tr data-row="(\d+)"><td>\d+</td><td class="title">([^<]*)</td>', page)
    )
    assert rows == {"3": "必填字段为空：手机号", "4": "卡号校验位错误", "5": "未知的地区代码"}, rows
    assert "Required field" not in page and "Unknown region" not in page
    for reason in ("必填字段为空：手机号", "卡号校验位错误", "未知的地区代码"):
        assert f"{reason} · <b>1 行</b>" in page
    assert details(2)["name"] in page and details(2)["id_number"] not in page  # masked
    english = web.get(f"/admin/imports/{import_id}", headers={"Accept-Language": "en"})
    assert "Required field is empty: Mobile number" in english.get_data(as_text=True)

    download = web.get(f"/admin/imports/{import_id}/rejected.csv").get_data().decode("utf-8")
    table = list(csv_module.reader(io.StringIO(download.lstrip("\ufeff"), newline="")))
    assert table[0][:4] == ["行号", "原因代码", "原因", "卡号"]
    assert [(r[0], r[1], r[2]) for r in table[1:]] == [
        ("3", "missing_field", "必填字段为空：手机号"),
        ("4", "bad_card_checksum", "卡号校验位错误"),
        ("5", "bad_region", "未知的地区代码")]  # fmt: skip
    _, token = admin
    api = web.client.get(f"/api/v1/admin/member-imports/{import_id}/rejected.csv",
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    api_rows = list(csv_module.reader(io.StringIO(api.get_data().decode().lstrip("\ufeff"))))
    assert api_rows[0][:3] == ["row_no", "code", "message"]
    assert api_rows[1][2] == "Required field is empty: phone"


def test_import_reason_reads_the_field_back_and_keeps_unknown_messages(app_ctx):
    from flask_babel import force_locale

    from merchant_portal.labels import import_reason

    with force_locale("zh_CN"):
        assert import_reason("field_too_long", "Field is too long: branch") == "字段过长：所属工会"
        assert import_reason("undecodable", "Row contains bytes that are not valid GB18030 text") \
            == "该行含有不是有效 GB18030 文本的字节"  # fmt: skip
        assert import_reason("no_such_code", "Something new") == "Something new"
        assert import_reason("missing_field", "garbled") == "必填字段为空："


def test_import_failure_reads_in_the_pages_language(app_ctx):
    from flask_babel import force_locale

    from merchant_portal.labels import import_failure

    with force_locale("zh_CN"):
        assert import_failure("Header row lacks columns: id_number, phone") == (
            "表头缺少以下列：身份证号、手机号")  # fmt: skip
        assert import_failure("The file is empty.") == "文件为空。"
        assert import_failure("Something unforeseen") == "Something unforeseen"
        assert import_failure(None) == ""
    with force_locale("en"):
        assert import_failure("Header row lacks columns: phone, region") == (
            "The header row lacks columns: Mobile number, Region code")  # fmt: skip
