"""The list cache: a repeated list request runs no list SQL, and a merchant's change is visible
to members at once (the version stamp in Redis), in this process and in another one."""

from flask import g

from catalogue import cache
from marketplace.extensions import get_redis
from shihui import create_app

from . import factories as f
from .test_pages import count_queries

LISTS = [
    "/api/v1/merchants",
    "/api/v1/offers",
    "/api/v1/groupbuys",
    "/api/v1/groupbuys?sort=popular",
]
PAGES = ["/m/directory", "/m/groupbuys", "/m/"]  # share entries with the API lists


def _seed(client):
    merchant, owner, _ = f.merchant("老北京火锅")
    offer = f.create(client, "/api/v1/merchant/offers", owner, f.offer_body())
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body())
    _, token, card = f.member()
    return merchant, owner, offer, deal, token, card


def _count(client, path, headers=None):
    with count_queries() as statements:
        resp = client.get(path, headers=headers or {})
    assert resp.status_code == 200, (path, resp.status_code)
    return len(statements), resp


def test_second_identical_request_runs_no_list_queries(app_ctx, client):
    *_, token, card = _seed(client)
    for path in LISTS:
        first, _ = _count(client, path, f.bearer(token))
        second, resp = _count(client, path, f.bearer(token))
        assert resp.get_json()["items"], path
        per_member = 1 if path == "/api/v1/offers" else 0  # the member's own favourite flags
        assert first >= 2 and second == per_member, (path, first, second)
    f.login(client, card)
    for path in PAGES:
        g.pop("_login_user", None)
        first, _ = _count(client, path)
        g.pop("_login_user", None)
        second, _ = _count(client, path)
        uncached = 1 if path == "/m/" else 0  # the flash sales of the home page
        assert second == uncached, (path, first, second)


def test_a_merchants_edit_is_visible_at_once(app_ctx, client):
    _merchant, owner, offer, deal, token, _card = _seed(client)

    def titles(path):
        return [i["title"] for i in client.get(path, headers=f.bearer(token)).json["items"]]

    assert titles("/api/v1/offers") == ["凭卡八折"]
    resp = client.patch(
        f"/api/v1/merchant/offers/{offer['id']}",
        json={"title": "凭卡七折"},
        headers=f.bearer(owner),
    )
    assert resp.status_code == 200
    assert titles("/api/v1/offers") == ["凭卡七折"]
    assert titles("/api/v1/groupbuys") == ["双人火锅套餐"]
    f.create(client, "/api/v1/merchant/groupbuys", owner, f.deal_body(title="三人套餐"))
    assert sorted(titles("/api/v1/groupbuys")) == ["三人套餐", "双人火锅套餐"]
    client.post(f"/api/v1/merchant/groupbuys/{deal['id']}/cancel", headers=f.bearer(owner))
    assert titles("/api/v1/groupbuys") == ["三人套餐"]


def test_another_process_sees_the_change(app_ctx, app_config, client):
    """A second app (another gunicorn worker) caches too; a write here empties its cache."""
    _merchant, owner, offer, *_rest, token, _card = _seed(client)
    other = create_app(app_config)
    other_client = other.test_client()
    path = "/api/v1/offers"

    def titles():
        with other.app_context():
            resp = other_client.get(path, headers=f.bearer(token))
        return [i["title"] for i in resp.json["items"]]

    assert titles() == ["凭卡八折"]
    with other.app_context():
        stamped = cache.version()
    client.patch(
        f"/api/v1/merchant/offers/{offer['id']}",
        json={"title": "凭卡七折"},
        headers=f.bearer(owner),
    )
    assert cache.version() != stamped
    assert titles() == ["凭卡七折"]


def test_lost_redis_data_does_not_revive_old_entries(app_ctx, client):
    *_, token, _card = _seed(client)
    client.get("/api/v1/offers", headers=f.bearer(token))
    before = cache.version()
    get_redis().flushdb()
    assert cache.version() != before  # a fresh random stamp, never an old counter value


def test_ttl_zero_turns_the_cache_off(app_ctx, client):
    app_ctx.config["CATALOGUE_CACHE_TTL"] = 0
    *_, token, _card = _seed(client)
    client.get("/api/v1/offers", headers=f.bearer(token))
    again, _ = _count(client, "/api/v1/offers", f.bearer(token))
    assert again >= 2
