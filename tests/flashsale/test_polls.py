"""What every phone polls: the sale list and one sale from the micro-cache (issue #13, item 4)."""

from __future__ import annotations

import time
from datetime import datetime

from .factories import bearer, create_sale, make_members, make_merchant


def test_list_etag_and_304(app_ctx, client, claim):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5)
    first = client.get("/api/v1/flashsales", headers=bearer(token))
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert first.get_json()["items"][0]["remaining"] == 5
    same = client.get("/api/v1/flashsales", headers={**bearer(token), "If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    assert "Server-Time" in same.headers and same.headers["Cache-Control"] == "private, no-cache"
    other = client.get("/api/v1/flashsales", headers={**bearer(token), "If-None-Match": '"x"'})
    assert other.status_code == 200
    assert claim(sale, token).status_code == 201
    time.sleep(0.6)  # past FLASHSALE_POLL_TTL
    changed = client.get("/api/v1/flashsales", headers={**bearer(token), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["items"][0]["remaining"] == 4


def test_one_sale_etag_and_404(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    draft = create_sale(client, owner, publish=False)
    r = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(token))
    assert r.status_code == 200 and r.get_json()["id"] == sale
    tag = r.headers["ETag"]
    again = client.get(
        f"/api/v1/flashsales/{sale}", headers={**bearer(token), "If-None-Match": tag}
    )
    assert again.status_code == 304
    strong = tag.removeprefix("W/")  # weak comparison: a client may drop the W/
    assert client.get(
        f"/api/v1/flashsales/{sale}", headers={**bearer(token), "If-None-Match": strong}
    ).status_code == 304  # fmt: skip
    for missing in (draft, 999_999):
        r = client.get(f"/api/v1/flashsales/{missing}", headers=bearer(token))
        assert (r.status_code, r.get_json()["code"]) == (404, "not_found")


def test_cached_answers_still_need_a_member_token(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner)
    tag = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(token)).headers["ETag"]
    assert client.get("/api/v1/flashsales").status_code == 401
    r = client.get(f"/api/v1/flashsales/{sale}", headers={"If-None-Match": tag})
    assert r.status_code == 401
    assert client.get(f"/api/v1/flashsales/{sale}", headers=bearer(owner)).status_code == 403


def test_server_time_is_fresh_in_a_cached_body(app_ctx, client):
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    create_sale(client, owner)
    a = client.get("/api/v1/flashsales", headers=bearer(token))
    time.sleep(0.05)
    b = client.get("/api/v1/flashsales", headers=bearer(token))
    assert a.headers["ETag"] == b.headers["ETag"]  # the same cached body...
    ta, tb = (datetime.fromisoformat(r.get_json()["server_time"]) for r in (a, b))
    assert (tb - ta).total_seconds() >= 0.04  # ...with the clock of each response
    assert b.headers["Server-Time"] == b.get_json()["server_time"]


def test_remaining_is_never_more_than_a_second_stale(app_ctx, client, claim):
    _, owner = make_merchant()
    members = make_members(3)
    sale = create_sale(client, owner, total_stock=10)
    for n, (_, token) in enumerate(members, start=1):
        client.get(f"/api/v1/flashsales/{sale}", headers=bearer(token))  # cached now
        client.get("/api/v1/flashsales", headers=bearer(token))
        assert claim(sale, token).status_code == 201
        claimed_at = time.monotonic()
        while True:
            one = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(token)).get_json()
            page = client.get("/api/v1/flashsales", headers=bearer(token)).get_json()
            if one["remaining"] == page["items"][0]["remaining"] == 10 - n:
                break
            assert time.monotonic() - claimed_at < 1.0, (one["remaining"], n)
            time.sleep(0.02)


def page_client(app, member_id: int):
    """A client whose session is the member's page login."""
    from marketplace.auth.models import Account
    from marketplace.extensions import db

    account = db.session.execute(
        db.select(Account).where(Account.member_id == member_id)
    ).scalar_one()
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    return c


def test_sale_pages_cached_with_a_fresh_clock_and_token(app, app_ctx, client, claim):
    import re

    from flask import g

    from marketplace.auth import verify_token

    _, owner = make_merchant()
    (member_id, token), (other_id, _) = make_members(2)
    sale = create_sale(client, owner, total_stock=5)
    pages = page_client(app, member_id)
    first = pages.get(f"/m/sales/{sale}")
    time.sleep(0.01)
    second = pages.get(f"/m/sales/{sale}")
    assert first.status_code == second.status_code == 200
    assert second.headers["Cache-Control"] == "no-store"
    ms = [int(re.search(r'data-server-ms="(\d+)"', r.text).group(1)) for r in (first, second)]
    assert ms[1] > ms[0] and abs(ms[1] / 1000 - time.time()) < 5
    tok = re.search(r'data-token="([^"]+)"', second.text).group(1)
    assert verify_token(tok).member_id == member_id  # this member's token, not a cached one
    g.pop("_login_user", None)  # the test's app context outlives requests: flask-login's cache
    other = page_client(app, other_id).get(f"/m/sales/{sale}").text
    g.pop("_login_user", None)
    assert verify_token(re.search(r'data-token="([^"]+)"', other).group(1)).member_id == other_id
    assert left(second.text) == 5
    listing = pages.get("/m/sales")
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "private, no-cache"
    assert left(listing.text) == 5
    assert claim(sale, token).status_code == 201
    started = time.monotonic()
    while left(pages.get(f"/m/sales/{sale}").text) != 4 or left(pages.get("/m/sales").text) != 4:
        assert time.monotonic() - started < 1.0, "the pages kept the old stock"
        time.sleep(0.02)
    assert pages.get("/m/sales/999999").status_code == 404


def left(html: str) -> int:
    """The remaining stock a sale page (or the first sale of the list) shows, in either locale."""
    import re

    n = r"(?:<span[^>]*>)?(\d+)(?:</span>)?"  # the sale page's count is live (a span)
    found = re.search(rf"{n} of \d+ left|剩余 {n} / \d+", html)
    return int(found.group(1) or found.group(2))


def test_sale_pages_show_a_cover_and_each_member_their_own_tickets(app, app_ctx, client, claim):
    """A sale without a picture gets a tile in its category's colour with the category's name;
    one with a cover shows it. ``data-owned`` is put in per member, never cached: the member who
    claimed sees 1, another member 0 from the same cached page."""
    import re

    from flask import g

    _, owner = make_merchant()
    (member_id, token), (other_id, _) = make_members(2)
    plain = create_sale(client, owner, category="car_wash")
    pictured = create_sale(client, owner, image_url="https://shihui.example/c/1.png")
    pages = page_client(app, member_id)
    listing = pages.get("/m/sales", headers={"Accept-Language": "zh-CN"}).text
    tile = re.search(rf'<div class="sale-cover sale-cover-car_wash" data-testid="cover-{plain}"'
                     r' aria-hidden="true"><span>([^<]+)</span>', listing)  # fmt: skip
    assert tile and tile.group(1) == "洗车", listing[:3000]
    assert (f'<img class="sale-cover" src="https://shihui.example/c/1.png" alt="" loading="lazy"'
            f' data-testid="cover-{pictured}">') in listing  # fmt: skip
    page = pages.get(f"/m/sales/{pictured}").text
    assert 'sale-cover-big" src="https://shihui.example/c/1.png"' in page
    assert 'data-owned="0"' in page
    assert claim(pictured, token).status_code == 201
    g.pop("_login_user", None)
    assert 'data-owned="1"' in pages.get(f"/m/sales/{pictured}").text
    g.pop("_login_user", None)
    assert 'data-owned="0"' in page_client(app, other_id).get(f"/m/sales/{pictured}").text
    g.pop("_login_user", None)
