"""Issue #18 item 5 with the test client: regions chosen by name (the server still gets and
checks codes), confirmations on irreversible admin buttons, the roster template the importer
reads back, and the shop-profile page (same limits as the API, photos checked by their bytes)."""

import csv
import io
import re

from catalogue.models import MerchantProfile
from flashsale.models import Campaign
from marketplace.extensions import db
from marketplace.members import importer
from marketplace.members.models import Card
from marketplace.merchants import Merchant
from marketplace.models import AuditEvent
from tests.flashsale.factories import make_members, make_merchant

from .test_pages import PNG, SALE


def test_sale_form_offers_regions_by_name_and_takes_ticked_codes(web, shop):
    web.login("owner1")
    form = web.get("/merchant/sales/new").get_data(as_text=True)
    assert 'type="checkbox" name="regions" value="130102"' in form
    assert re.search(r'value="130102"[^>]*>\s*长安区</label>', form)
    assert "<summary>石家庄" in form and "<summary>北京" in form
    assert 'name="regions" type="text"' not in form  # no more typing 6-digit codes
    resp = web.post("/merchant/sales/new", SALE | {"regions": ["130102", "110105"]})
    assert resp.status_code == 302
    campaign = db.session.scalars(db.select(Campaign)).one()
    assert campaign.regions == ["130102", "110105"]
    edit = web.get(f"/merchant/sales/{campaign.id}/edit").get_data(as_text=True)
    assert re.search(r'value="130102"[^>]*checked', edit)
    assert re.search(r'value="110105"[^>]*checked', edit)
    assert not re.search(r'value="130104"[^>]*checked', edit)
    detail = web.get(f"/merchant/sales/{campaign.id}").get_data(as_text=True)
    assert "长安区、朝阳区" in detail


def test_offer_form_still_refuses_unknown_codes_and_none_ticked_means_all(web, shop):
    db.session.get(Merchant, shop[0]).region = "130102"
    db.session.commit()
    web.login("owner1")
    offer = {
        "title": "凭卡八折", "category": "cinema", "valid_from": "2020-01-01T00:00",
        "valid_until": "2099-01-01T00:00", "status": "published",
    }  # fmt: skip
    bad = web.post("/merchant/offers/new?lang=en", offer | {"regions": ["130102", "999999"]})
    assert bad.status_code == 422
    assert "Unknown region codes: 999999." in bad.get_data(as_text=True)
    assert web.post("/merchant/offers/new", offer).status_code == 302  # nothing ticked


def test_application_form_is_a_select_of_region_names(client):
    page = client.get("/merchant/apply").get_data(as_text=True)
    select = re.search(r'<select id="region" name="region".*?</select>', page, re.S).group(0)
    assert '<optgroup label="石家庄市">' in select
    assert re.search(r'<option value="130108"[^>]*>\s*裕华区</option>', select)
    english = client.get("/merchant/apply?lang=en").get_data(as_text=True)
    assert "Yuhua District" in english and '<optgroup label="Shijiazhuang">' in english


def test_irreversible_admin_buttons_ask_first(web, admin):
    pending = make_merchant(username="pend1", status="pending")[0]
    approved = make_merchant(name="另一家", username="appr1")[0]
    web.login("root", where="/admin/login")
    page = web.get(f"/admin/merchants/{pending}").get_data(as_text=True)
    approve = re.search(r"<form[^>]*approve[^>]*>", page).group(0)
    assert "data-confirm=" in approve
    reject = re.search(r"<form[^>]*reject[^>]*>", page).group(0)
    assert "data-confirm=" in reject
    page = web.get(f"/admin/merchants/{approved}").get_data(as_text=True)
    suspend = re.search(r"<form[^>]*suspend[^>]*>", page).group(0)
    assert "data-confirm=" in suspend
    assert "<script>" not in page and "onclick" not in page  # CSP: the check is in app.js
    member_id, _ = make_members(1)[0]
    card = db.session.scalars(db.select(Card).where(Card.member_id == member_id)).first()
    page = web.get(f"/admin/cards?card_no={card.card_no}").get_data(as_text=True)
    reissue = re.search(r"<form[^>]*card_reissue[^>]*>|<form[^>]*reissue[^>]*>", page).group(0)
    assert "data-confirm=" in reissue


def test_roster_template_reads_back_through_the_importer(web, admin):
    web.login("root", where="/admin/login")
    assert "/admin/imports/template.csv" in web.get("/admin/imports").get_data(as_text=True)
    resp = web.get("/admin/imports/template.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    data = resp.get_data()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens it as UTF-8
    header, example = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:3] == ["卡号 card_no", "姓名 name", "身份证号 id_number"]
    assert [h.split()[-1] for h in header] == [*importer.COLUMNS, *importer.OPTIONAL]
    assert example[0].endswith("\t")  # Excel keeps the 16 digits as text
    rows, encoding = importer.read_rows(data)
    assert encoding == "utf-8" and len(rows) == 1
    candidate = importer.check_row(*rows[0], key=b"k" * 32)
    assert not isinstance(candidate, importer.Rejected), candidate


def test_importer_reads_chinese_and_bilingual_headers():
    assert importer.header_key("卡号 card_no") == "card_no"
    assert importer.header_key("身份证号（id_number）") == "id_number"
    assert importer.header_key("手机号") == "phone"
    assert importer.header_key(" REGION ") == "region"
    assert importer.header_key("备注") == "备注"


def test_shop_profile_saves_with_the_apis_limits(web, shop):
    merchant_id = shop[0]
    web.login("owner1")
    page = web.get("/merchant/profile")
    assert page.status_code == 200 and 'data-testid="profile-form"' in page.get_data(as_text=True)
    good = {"opening_hours": "每天 10:00–22:00", "contact_phone": "0311-8888 6666",
            "address": "中山路 1 号", "keywords": "电影 IMAX"}  # fmt: skip
    too_long = web.post("/merchant/profile?lang=en", good | {"opening_hours": "x" * 201})
    assert too_long.status_code == 422
    bad_phone = web.post("/merchant/profile?lang=en", good | {"contact_phone": "call me"})
    assert bad_phone.status_code == 422
    gif = io.BytesIO(b"GIF89a" + b"\0" * 64)  # named .png: the bytes decide
    fake = web.post("/merchant/profile?lang=en", good | {"photo": (gif, "p.png")},
                    content_type="multipart/form-data")  # fmt: skip
    assert fake.status_code == 422 and "JPEG, PNG or WebP" in fake.get_data(as_text=True)
    assert db.session.get(MerchantProfile, merchant_id) is None  # nothing saved on a mistake
    resp = web.post("/merchant/profile", good | {"photo": (io.BytesIO(PNG), "shop.jpg")},
                    content_type="multipart/form-data")  # fmt: skip
    assert resp.status_code == 302
    db.session.expire_all()
    profile = db.session.get(MerchantProfile, merchant_id)
    assert profile.opening_hours == "每天 10:00–22:00" and profile.keywords == "电影 IMAX"
    assert re.search(r"/merchant/media/covers/\d+$", profile.photo_url)
    merchant = db.session.get(Merchant, merchant_id)
    assert (merchant.contact_phone, merchant.address) == ("0311-8888 6666", "中山路 1 号")
    assert "中山路" in profile.search_text
    event = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "merchant.profile_updated")
    ).one()
    assert event.data["address"] == "中山路 1 号"
    shown = web.get("/merchant/profile").get_data(as_text=True)
    assert 'data-testid="shop-photo"' in shown and "每天 10:00–22:00" in shown
    web.post("/merchant/profile", good | {"remove_photo": "y"})
    db.session.expire_all()
    assert db.session.get(MerchantProfile, merchant_id).photo_url is None
