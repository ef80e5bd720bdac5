"""Directory and offers: categories, districts, Chinese keyword search, pagination, favourites."""

from catalogue.search import normalise

from . import factories as f
from .factories import HOME, OTHER_DISTRICT


def _names(resp):
    assert resp.status_code == 200, resp.get_json()
    return [m["name_zh"] for m in resp.get_json()["items"]]


def test_search_by_chinese_name_keyword_and_address(app_ctx, api):
    f.merchant("老北京火锅", keywords="涮肉 铜锅", address="中山西路88号")
    f.merchant("万达影城", category="cinema", name_en="Wanda Cinema", address="裕华路1号")
    f.merchant("ＫＴＶ欢唱", category="services", region=OTHER_DISTRICT)
    f.merchant("停业火锅", status="suspended")
    _, token, _ = f.member()
    assert _names(api.get("/api/v1/merchants?q=火锅", token)) == ["老北京火锅"]
    assert _names(api.get("/api/v1/merchants?q=铜锅", token)) == ["老北京火锅"]
    assert _names(api.get("/api/v1/merchants?q=中山西路", token)) == ["老北京火锅"]
    assert _names(api.get("/api/v1/merchants?q=wanda", token)) == ["万达影城"]
    assert _names(api.get("/api/v1/merchants?q=ktv", token)) == ["ＫＴＶ欢唱"]
    assert _names(api.get("/api/v1/merchants?q=火锅 涮肉", token)) == ["老北京火锅"]
    assert _names(api.get("/api/v1/merchants?q=火锅 影城", token)) == []
    assert _names(api.get("/api/v1/merchants?q=100%", token)) == []
    assert _names(api.get("/api/v1/merchants?category=cinema", token)) == ["万达影城"]
    assert _names(api.get(f"/api/v1/merchants?district={OTHER_DISTRICT}", token)) == ["ＫＴＶ欢唱"]
    assert len(_names(api.get("/api/v1/merchants", token))) == 3  # suspended merchants vanish


def test_normalise():
    assert normalise("ＫＴＶ", None, "  火锅\u3000店 ") == "ktv 火锅 店"


def test_pagination_and_current_offers(app_ctx, client, api):
    shops = [f.merchant(f"商户{i:02d}")[0] for i in range(5)]
    _, owner, _ = f.merchant("一号店")
    for title in ("凭卡八折", "会员价39元"):
        f.create(client, "/api/v1/merchant/offers", owner, f.offer_body(title=title))
    f.create(client, "/api/v1/merchant/offers", owner, f.offer_body(status="draft"))
    _, token, _ = f.member()
    resp = api.get("/api/v1/merchants?per_page=2&page=2", token)
    body = resp.get_json()
    assert (body["total"], body["pages"], body["page"]) == (6, 3, 2)
    assert 'rel="next"' in resp.headers["Link"] and 'rel="prev"' in resp.headers["Link"]
    first = api.get("/api/v1/merchants?per_page=1", token).get_json()["items"][0]
    assert first["name_zh"] == "一号店" and first["current_offers"] == 2
    detail = api.get(f"/api/v1/merchants/{first['id']}", token).get_json()
    assert {o["title"] for o in detail["offers"]} == {"凭卡八折", "会员价39元"}
    assert detail["opening_hours"] == "10:00-22:00"
    assert api.get(f"/api/v1/merchants/{shops[0].id + 999}", token).status_code == 404
    found = api.get("/api/v1/offers?q=八折", token).get_json()
    assert [o["title"] for o in found["items"]] == ["凭卡八折"]


def test_suspended_merchant_and_its_offers_vanish(client, api, shop):
    from marketplace.extensions import db

    merchant, owner, _ = shop
    offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
    _, token, _ = f.member()
    assert api.get("/api/v1/offers", token).get_json()["total"] == 1
    merchant.status = "suspended"
    db.session.commit()
    assert api.get("/api/v1/offers", token).get_json()["total"] == 0
    assert api.get(f"/api/v1/offers/{offer['id']}", token).status_code == 404
    assert api.get(f"/api/v1/merchants/{merchant.id}", token).status_code == 404


def test_favourites(client, api, shop, app):
    offer = f.create(client, "/api/v1/merchant/offers", shop[1], f.offer_body())
    _, token, _ = f.member(HOME)
    put = client.put(f"/api/v1/offers/{offer['id']}/favourite", headers=f.bearer(token))
    assert put.status_code == 204
    assert (
        client.put(f"/api/v1/offers/{offer['id']}/favourite", headers=f.bearer(token)).status_code
        == 204
    )
    saved = api.get("/api/v1/offers/favourites", token).get_json()
    assert [o["id"] for o in saved["items"]] == [offer["id"]] and saved["items"][0]["favourite"]
    assert api.get(f"/api/v1/offers/{offer['id']}", token).get_json()["favourite"] is True
    client.delete(f"/api/v1/offers/{offer['id']}/favourite", headers=f.bearer(token))
    assert api.get("/api/v1/offers/favourites", token).get_json()["total"] == 0


def test_merchant_manages_offers_and_profile(client, api, shop):
    merchant, owner, clerk = shop
    offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
    patched = client.patch(f"/api/v1/merchant/offers/{offer['id']}", json={"status": "withdrawn"},
                           headers=f.bearer(owner))  # fmt: skip
    assert patched.status_code == 200 and patched.get_json()["status"] == "withdrawn"
    assert api.get("/api/v1/merchant/offers", clerk).get_json()["total"] == 1
    profile = client.put("/api/v1/merchant/profile", headers=f.bearer(owner),
                         json={"opening_hours": "9-21", "keywords": "羊蝎子"})  # fmt: skip
    assert profile.status_code == 200, profile.get_json()
    _, token, _ = f.member()
    assert _names(api.get("/api/v1/merchants?q=羊蝎子", token)) == [merchant.name_zh]
