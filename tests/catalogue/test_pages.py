"""Member pages: they render, and each list page runs a constant number of SQL queries."""

import re
from contextlib import contextmanager

import pytest
from flask import g
from sqlalchemy import event

from marketplace.extensions import db

from . import factories as f


@contextmanager
def count_queries():
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _populate(client, n):
    """n merchants, each with an offer and a group-buy, joined by the viewer."""
    _, viewer_token, card = f.member()
    for i in range(n):
        _, owner, _ = f.merchant(f"商户{i:03d}")
        f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
        deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
        client.post(f"/api/v1/groupbuys/{deal['id']}/join", headers=f.bearer(viewer_token))
    return viewer_token, card


PAGES = ["/m/", "/m/directory", "/m/groupbuys", "/m/my/groupbuys", "/m/directory?q=商户"]
APIS = [
    "/api/v1/merchants",
    "/api/v1/offers",
    "/api/v1/groupbuys",
    "/api/v1/groupbuys/mine",
    "/api/v1/groupbuys/teams/mine",
    "/api/v1/offers/favourites",
]


def _counts(client, token, paths):
    counts = {}
    for path in paths:
        headers = f.bearer(token) if path.startswith("/api/") else {}
        client.get(path, headers=headers)  # warm caches (token version, metadata)
        with count_queries() as statements:
            resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.status_code)
        counts[path] = len(statements)
    return counts


def test_list_pages_run_a_constant_number_of_queries(app_ctx, client):
    app_ctx.config["CATALOGUE_CACHE_TTL"] = 0  # count the queries of a miss (test_cache: a hit)
    token, card = _populate(client, 2)
    f.login(client, card)
    small = _counts(client, token, PAGES + APIS)
    client_big = app_ctx.test_client()
    token_big, card_big = _populate(client_big, 12)
    f.login(client_big, card_big)
    big = _counts(client_big, token_big, PAGES + APIS)
    assert big == small
    assert max(small.values()) <= 8, small


def test_pages_render(app_ctx, client):
    merchant, owner, _ = f.merchant("老北京火锅", hours="11:00-23:00")
    offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
    _, _, card = f.member()
    assert app_ctx.test_client().get("/m/directory").status_code == 302  # log in first
    g.pop("_login_user", None)  # requests share the test's app context (and so ``g``)
    f.login(client, card)
    html = client.get("/m/").get_data(as_text=True)
    assert "双人火锅套餐" in html and 'data-testid="categories"' in html
    html = client.get(f"/m/merchants/{merchant.id}").get_data(as_text=True)
    assert "11:00-23:00" in html and "凭卡八折" in html
    html = client.get(f"/m/offers/{offer['id']}").get_data(as_text=True)
    assert "周一至周五可用" in html
    html = client.get(f"/m/groupbuys/{deal['id']}").get_data(as_text=True)
    assert 'data-testid="countdown"' in html and 'data-testid="progress"' in html
    assert client.get("/m/offers/999999").status_code == 404
    from flask_babel import refresh

    refresh()  # the locale is cached on the shared app context
    english = client.get("/m/directory?lang=en").get_data(as_text=True)
    assert "Merchants" in english


@pytest.mark.parametrize("role", ["merchant_owner"])
def test_staff_cannot_open_member_pages(app_ctx, client, role):
    from marketplace.auth.models import Account

    account = Account(username="staff1", role=role, password_hash="x")
    db.session.add(account)
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:0"
    assert client.get("/m/directory").status_code == 403


def test_join_and_leave_through_the_page(app_ctx, client):
    _, owner, _ = f.merchant()
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
    _, _, card = f.member()
    f.login(client, card)
    page = client.get(f"/m/groupbuys/{deal['id']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post(
        f"/m/groupbuys/{deal['id']}/join", data={"csrf_token": token}, follow_redirects=True
    )
    html = resp.get_data(as_text=True)
    assert 'data-testid="my-place"' in html
    assert re.search(r'data-testid="joined">1<', html)
    resp = client.post(
        f"/m/groupbuys/{deal['id']}/leave", data={"csrf_token": token}, follow_redirects=True
    )
    assert 'data-testid="join"' in resp.get_data(as_text=True)
