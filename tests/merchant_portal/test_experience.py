"""Small things members and merchants tripped over (issue #18): the site icon, a helpful 403 for a
member who taps 商户平台, the dashboard's stock column, team group-buy progress and hours."""

import re
import struct

from tests.catalogue import factories as f
from tests.flashsale.factories import create_sale

from .conftest import fresh_g

HTML = {"Accept": "text/html"}


def test_favicon_is_a_real_icon_and_the_svg_is_linked(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/x-icon"
    reserved, kind, count = struct.unpack("<HHH", resp.data[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, *_, size, offset = struct.unpack("<BBBBHHII", resp.data[6:22])
    assert (width, height) == (32, 32) and offset + size == len(resp.data)
    svg = client.get("/favicon.svg")
    assert svg.status_code == 200 and b'xmlns="http://www.w3.org/2000/svg"' in svg.data
    assert 'rel="icon"' in client.get("/").get_data(as_text=True)


def test_member_on_the_merchant_portal_gets_a_chinese_page_with_a_way_back(web, member):
    web.login("62220" + "0" * 11, where="/m/login")
    fresh_g()
    resp = web.client.get("/merchant/", headers=HTML)
    assert resp.status_code == 403
    html = resp.get_data(as_text=True)
    assert "您的账户无权访问此页面" in html and "Forbidden" not in html
    assert "商户平台" in html and "工会工作人员" in html
    assert re.search(r'href="/m/"[^>]*data-testid="error-home"', html)


def test_anonymous_404_is_in_chinese(client):
    html = client.get("/no/such/page", headers=HTML).get_data(as_text=True)
    assert "页面不存在" in html and "Not Found" not in html


def test_dashboard_stock_column_says_remaining_not_quit(client, web, shop):
    create_sale(client, shop[1])
    web.login("owner1")
    fresh_g()
    html = web.client.get("/merchant/").get_data(as_text=True)
    assert "<th>剩余</th>" in html and "已退出" not in html


def test_team_groupbuy_counts_members_and_says_whole_hours(app_ctx, client):
    _, owner, _ = f.merchant()
    deal = f.create(
        client, "/api/v1/merchant/groupbuys", owner,
        f.deal_body(mode="team", team_size=3, team_window_seconds=86400,
                    min_participants=1, max_participants=6),
    )  # fmt: skip
    _, token, card = f.member()
    joined = client.post(f"/api/v1/groupbuys/{deal['id']}/join", json={}, headers=f.bearer(token))
    assert joined.status_code == 201, joined.get_json()
    f.login(client, card)
    html = client.get(f"/m/groupbuys/{deal['id']}").get_data(as_text=True)
    assert "已有 1 人参团，每队 3 人" in html
    assert "1 / 1" not in html
    assert "24 小时" in html and "24.0" not in html


def test_admin_card_page_names_the_status_in_chinese(web, admin, member):
    from marketplace.extensions import db
    from marketplace.members.models import Card

    card = db.session.scalars(db.select(Card)).one()
    web.login("root", where="/admin/login")
    fresh_g()
    page = web.get(f"/admin/cards?card_no={card.card_no}").get_data(as_text=True)
    assert '<span class="badge">已激活</span>' in page and ">active<" not in page
