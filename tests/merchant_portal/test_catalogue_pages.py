"""Portal pages for discount offers and group-buys: the forms (Beijing times, yuan, mistakes in
words), the lists, the detail with participants, cancel, and what members then see."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from catalogue.models import GroupBuy, Offer
from marketplace.extensions import db
from marketplace.merchants import Merchant
from marketplace.models import utcnow
from tests.catalogue.factories import HOME
from tests.flashsale.factories import bearer, make_members

from .conftest import fresh_g

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFER = {
    "title": "凭卡八折", "title_en": "20% off", "terms": "周一至周五", "category": "cinema",
    "valid_from": "2020-01-01T00:00", "valid_until": "2099-01-01T00:00",
    "regions": "", "status": "published",
}  # fmt: skip


def local(dt: datetime) -> str:
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def deal_form(**overrides) -> dict:
    now = utcnow()
    form = {
        "mode": "tipping", "title": "双人观影套餐", "category": "cinema",
        "member_price": "59.9", "usual_price": "120", "min_participants": "2",
        "max_participants": "3", "per_member_limit": "1",
        "opens_at": local(now - timedelta(minutes=5)), "deadline": local(now + timedelta(days=1)),
        "voucher_valid_until": local(now + timedelta(days=30)),
    }  # fmt: skip
    return form | overrides


@pytest.fixture
def shop(shop):
    """The portal's shop, moved to 长安区 (Shijiazhuang): regions.csv has no Shanghai codes, so
    members see a city-wide item only in a listed city."""
    db.session.get(Merchant, shop[0]).region = HOME
    db.session.commit()
    return shop


def members(n=1):
    return make_members(n, region=HOME)


def member_client(app_ctx, member_id):
    """A second test client with the member's session (members use /m/ pages)."""
    from marketplace.auth.models import Account

    account = db.session.scalar(db.select(Account).where(Account.member_id == member_id))
    other = app_ctx.test_client()
    with other.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    return other


def test_offer_created_and_edited_through_the_portal(app_ctx, web, shop):
    merchant_id = shop[0]
    web.login("owner1")
    bad = web.post("/merchant/offers/new?lang=en", OFFER | {"valid_until": "2019-01-01T00:00"})
    assert bad.status_code == 422
    assert "The offer must end after it starts." in bad.get_data(as_text=True)
    unknown = web.post("/merchant/offers/new?lang=en", OFFER | {"regions": "999999"})
    assert "Unknown region codes: 999999." in unknown.get_data(as_text=True)
    assert web.post("/merchant/offers/new", OFFER).status_code == 302
    offer = db.session.scalars(db.select(Offer)).one()
    assert offer.merchant_id == merchant_id and offer.city  # the merchant's city
    assert offer.valid_from == datetime(2019, 12, 31, 16, 0, tzinfo=UTC)  # Beijing midnight
    listed = web.get("/merchant/offers").get_data(as_text=True)
    assert f'data-testid="offer-{offer.id}"' in listed and "凭卡八折" in listed

    (member_id, token), *_ = members(1)
    seen = app_ctx.test_client().get("/api/v1/offers", headers=bearer(token)).get_json()
    assert [o["id"] for o in seen["items"]] == [offer.id]
    fresh_g()
    member = member_client(app_ctx, member_id)
    assert "凭卡八折" in member.get(f"/m/merchants/{merchant_id}").get_data(as_text=True)

    edit = web.get(f"/merchant/offers/{offer.id}/edit").get_data(as_text=True)
    assert 'value="2020-01-01T00:00"' in edit  # shown in Beijing time again
    changed = OFFER | {"title": "凭卡七折", "status": "withdrawn"}
    assert web.post(f"/merchant/offers/{offer.id}/edit", changed).status_code == 302
    db.session.refresh(offer)
    assert (offer.title, offer.status) == ("凭卡七折", "withdrawn")
    fresh_g()
    gone = app_ctx.test_client().get("/api/v1/offers", headers=bearer(token)).get_json()
    assert gone["items"] == []  # withdrawn: members no longer see it, at once


def test_groupbuy_form_explains_mistakes_in_words(web, shop):
    web.login("owner1")
    bad = web.post(
        "/merchant/groupbuys/new?lang=en",
        deal_form(mode="team", member_price="200", max_participants="1", team_size=""),
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for sentence in (
        "The member price cannot be above the usual price.",
        "There must be at least as many places as members needed.",
        "Team deals need a team size (2 to 50).",
        "Team deals need the minutes a team has to fill up.",
    ):
        assert sentence in html, sentence
    past = web.post(
        "/merchant/groupbuys/new?lang=en",
        deal_form(opens_at="2019-01-01T00:00", deadline="2020-01-01T00:00"),
    )
    assert "The deadline must be in the future." in past.get_data(as_text=True)
    assert db.session.scalars(db.select(GroupBuy)).all() == []


def test_groupbuy_created_listed_joined_and_cancelled(app_ctx, web, shop):
    web.login("owner1")
    resp = web.post("/merchant/groupbuys/new", deal_form())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    deal = db.session.scalars(db.select(GroupBuy)).one()
    assert (deal.member_price_cents, deal.usual_price_cents) == (5990, 12000)
    assert resp.headers["Location"].endswith(f"/merchant/groupbuys/{deal.id}")

    (member_id, token), *_ = members(1)
    fresh_g()
    member = member_client(app_ctx, member_id)
    assert "双人观影套餐" in member.get("/m/groupbuys").get_data(as_text=True)
    fresh_g()
    joined = member.post(f"/api/v1/groupbuys/{deal.id}/join", headers=bearer(token))
    assert joined.status_code == 201, joined.get_json()

    listed = web.get("/merchant/groupbuys").get_data(as_text=True)
    assert f'data-testid="joined-{deal.id}">1 / 3<' in listed
    detail = web.get(f"/merchant/groupbuys/{deal.id}").get_data(as_text=True)
    assert 'data-testid="participant-' in detail and "会*" in detail  # names are masked

    assert web.post(f"/merchant/groupbuys/{deal.id}/cancel").status_code == 302
    db.session.refresh(deal)
    assert deal.state == "cancelled"
    again = web.post(f"/merchant/groupbuys/{deal.id}/cancel", follow_redirects=True)
    assert again.status_code == 200  # decided already: a message, not an error page


def test_team_deal_through_the_form(web, shop):
    web.login("owner1")
    form = deal_form(mode="team", team_size="2", team_window_minutes="30", max_participants="4")
    assert web.post("/merchant/groupbuys/new", form).status_code == 302
    deal = db.session.scalars(db.select(GroupBuy)).one()
    assert (deal.mode, deal.team_size, deal.team_window_seconds) == ("team", 2, 1800)


def test_clerk_sees_lists_without_write_buttons(web, shop):
    web.login("owner1")
    web.post("/merchant/groupbuys/new", deal_form())
    web.post("/merchant/logout")
    web._token = None
    web.login("clerk1")
    html = web.get("/merchant/groupbuys").get_data(as_text=True)
    assert "双人观影套餐" in html and 'data-testid="new-groupbuy"' not in html
    assert 'data-testid="nav-offers"' in html
    assert web.get("/merchant/groupbuys/new").status_code == 403


def test_counter_redeems_groupbuy_vouchers_too(app_ctx, web, shop):
    """A group-buy voucher typed at the counter is found and redeemed once (the flash-sale
    vouchers keep their path); another merchant's counter does not know it."""
    from catalogue import states
    from catalogue.models import GroupBuyVoucher
    from tests.flashsale.factories import make_merchant

    web.login("owner1")
    web.post("/merchant/groupbuys/new", deal_form(min_participants="1"))
    deal = db.session.scalars(db.select(GroupBuy)).one()
    (_member_id, token), *_ = members(1)
    fresh_g()
    assert (
        app_ctx.test_client()
        .post(f"/api/v1/groupbuys/{deal.id}/join", headers=bearer(token))
        .status_code
        == 201
    )
    assert states.decide_deal(deal.id, now=deal.deadline + timedelta(minutes=1)) == "succeeded"
    code = db.session.scalars(db.select(GroupBuyVoucher.code)).one()

    web.post("/merchant/logout")
    web._token = None
    web.login("clerk1")
    found = web.get(f"/merchant/counter?code={code.lower()}&lang=en")
    assert found.status_code == 200 and 'data-testid="confirm"' in found.get_data(as_text=True)
    done = web.post("/merchant/counter/redeem?lang=en", {"code": code, "key": "gb-key-0001"})
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and 'data-result="ok"' in html and "双人观影套餐" in html
    again = web.post("/merchant/counter/redeem?lang=en", {"code": code, "key": "gb-key-0002"})
    assert again.status_code == 409 and "Already redeemed" in again.get_data(as_text=True)
    looked = web.get(f"/merchant/counter?code={code}&lang=en")
    assert looked.status_code == 409 and "Already redeemed" in looked.get_data(as_text=True)

    make_merchant(name="别家", username="owner2")
    web.post("/merchant/logout")
    web._token = None
    web.login("owner2")
    other = web.get(f"/merchant/counter?code={code}&lang=en")
    assert other.status_code == 404
    assert "No such voucher for this merchant." in other.get_data(as_text=True)
