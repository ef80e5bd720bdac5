"""Union quotas across sales and no-show bans (docs/flashsale.md "Quotas and no-shows"):
the rules over the admin API, refusals as problem+json, holds given back on a stock refusal,
a crash between the quota and the stock step reconciled, no-show bans and their lifting, and
races over HTTP (several devices of one member, several sales, at once) on standalone Redis
and on the 3-master cluster, where the member's quota keys and the sales' pools sit on
different shards."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from flashsale import quotas
from flashsale.models import NoShowBan, Voucher
from marketplace.extensions import db, get_redis
from marketplace.models import AuditEvent, utcnow
from tests.conftest import gunicorn_server

from .factories import bearer, create_sale, make_members, make_merchant
from .quota_racers import device
from .test_claim_path_sql import sql_log  # noqa: F401 - the fixture
from .test_cluster_e2e import cluster_app  # noqa: F401 - the fixture
from .test_merchant_api import admin_token


def put_rule(client, admin, scope, **values):
    return client.put(f"/api/v1/admin/sale-rules/{scope}", json=values, headers=bearer(admin))


def counted(member_id, sale_id) -> dict:
    from flashsale.hotpath import campaign_meta

    month = quotas.month_of(campaign_meta(sale_id).starts_at)
    return quotas.usage(member_id, [month])[month]


def test_monthly_quota_overall_and_per_category(app_ctx, client, claim):
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    (member_id, token), (other, other_token) = make_members(2)
    movies = [create_sale(client, owner, total_stock=5) for _ in range(3)]
    concert = create_sale(client, owner, total_stock=5, category="concert")
    resp = put_rule(client, admin, "*", monthly_limit=3)
    assert resp.status_code == 200, resp.get_json()
    assert put_rule(client, admin, "movie", monthly_limit=2).status_code == 200
    app_ctx.extensions.pop("flashsale.rules", None)  # this process's 1 s cache

    assert claim(movies[0], token, key="quota-m0").status_code == 201
    assert claim(movies[1], token).status_code == 201
    refused = claim(movies[2], token)
    assert refused.status_code == 409
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.get_json()["code"] == "quota_exceeded"
    assert refused.get_json()["scope"] == "movie" and refused.get_json()["monthly_limit"] == 2
    assert claim(concert, token).status_code == 201  # another category: the overall limit
    over = claim(movies[2], token).get_json()
    assert over["code"] == "quota_exceeded" and over["scope"] == "*"
    replay = claim(movies[0], token, key="quota-m0")  # a replay of a won claim still answers
    assert replay.status_code == 201
    assert counted(member_id, movies[0]) == {"*": 3, "movie": 2, "concert": 1}

    # A refusal by the stock gives the hold back: the other member empties a sale first.
    small = create_sale(client, owner, total_stock=2, category="concert")
    assert claim(small, other_token).status_code == 201
    assert claim(small, token).status_code == 409  # over quota anyway: refused before the stock
    assert counted(other, small) == {"*": 1, "concert": 1}
    again = claim(small, other_token)  # the engine refuses (one per member): hold given back
    assert again.get_json()["code"] == "limit_reached"
    assert counted(other, small) == {"*": 1, "concert": 1}


def test_cancel_gives_the_ticket_back(app_ctx, client, claim, drain):
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    ((member_id, token),) = make_members(1)
    a, b = (create_sale(client, owner, total_stock=5) for _ in range(2))
    put_rule(client, admin, "*", monthly_limit=1)
    app_ctx.extensions.pop("flashsale.rules", None)
    won = claim(a, token)
    assert won.status_code == 201
    assert claim(b, token).get_json()["code"] == "quota_exceeded"
    drain()
    code = won.get_json()["voucher"]["code"]
    resp = client.post(f"/api/v1/me/vouchers/{code}/cancel", headers=bearer(token))
    assert resp.status_code == 200, resp.get_json()
    assert counted(member_id, a) == {}
    assert claim(b, token).status_code == 201


def test_claim_path_stays_free_of_sql_with_rules(app_ctx, client, claim, sql_log):  # noqa: F811
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    members = make_members(12)
    sales = [create_sale(client, owner, total_stock=12) for _ in range(3)]
    put_rule(client, admin, "*", monthly_limit=2)
    db.session.remove()
    sql_log.clear()
    statuses = Counter()
    for n, (_, token) in enumerate(members):
        for sale in sales:
            statuses[claim(sale, token, key=f"nosql-{n}-{sale}").status_code] += 1
    assert statuses == {201: 24, 409: 12}, statuses
    assert sql_log == [], sql_log[:5]


def test_a_crash_between_quota_and_stock_is_reconciled(app_ctx, client, claim):
    """A hold whose request died before the stock answered (or before giving it back) is
    settled by the reconciler: given back if the engine has no such claim, kept if it has."""
    from flashsale.hotpath import campaign_meta

    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    ((member_id, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5)
    put_rule(client, admin, "*", monthly_limit=2)
    app_ctx.extensions.pop("flashsale.rules", None)
    rules = quotas.hot_rules()
    meta = campaign_meta(sale)
    # Two requests with one id share a hold: the first refusal keeps it for the other.
    hold = quotas.take(rules, meta, member_id, "crashed-1")
    assert quotas.take(rules, meta, member_id, "crashed-1") == hold  # joined
    quotas.finish(hold)
    assert counted(member_id, sale) == {"*": 1, "movie": 1}
    quotas.finish(hold)
    assert counted(member_id, sale) == {}
    # The crash: a hold taken, the process gone before the stock step.
    quotas.take(rules, meta, member_id, "crashed-2")
    won = claim(sale, token, key="crashed-3")  # a real claim, its hold pending too
    assert won.status_code == 201
    assert counted(member_id, sale) == {"*": 2, "movie": 2}
    assert claim(create_sale(client, owner), token).get_json()["code"] == "quota_exceeded"
    assert quotas.reconcile_holds(grace_ms=60_000) == {"kept": 0, "released": 0, "skipped": 0}
    report = quotas.reconcile_holds(grace_ms=0)
    assert report == {"kept": 1, "released": 1, "skipped": 0}, report
    assert counted(member_id, sale) == {"*": 1, "movie": 1}
    assert claim(sale, token, key="crashed-3").status_code == 201  # the kept one replays


def test_settle_skips_a_hold_touched_since_it_was_read(app_ctx, client):
    from flashsale.hotpath import campaign_meta

    admin = admin_token()
    _, owner = make_merchant()
    ((member_id, _),) = make_members(1)
    sale = create_sale(client, owner, total_stock=5)
    put_rule(client, admin, "*", monthly_limit=2)
    app_ctx.extensions.pop("flashsale.rules", None)
    hold = quotas.take(quotas.hot_rules(), campaign_meta(sale), member_id, "touched")
    seen = int(get_redis().hget(hold.keys[0], hold.field).decode().split("|")[2])
    quotas.take(quotas.hot_rules(), campaign_meta(sale), member_id, "touched")  # joined
    answer = quotas._call(hold.keys, "settle", hold.field, seen - 1, "lost", 0)
    assert answer == ["skipped"]
    assert counted(member_id, sale) == {"*": 1, "movie": 1}


def test_no_show_ban_and_lift(app_ctx, client, claim, drain):
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    (member_id, token), (_, punctual) = make_members(2)
    olds = [create_sale(client, owner, total_stock=5) for _ in range(2)]
    for sale in olds:
        assert claim(sale, token).status_code == 201
        assert claim(sale, punctual).status_code == 201
    drain()
    past = utcnow() - timedelta(days=1)
    db.session.execute(update(Voucher).values(valid_until=past))  # both tickets went unused
    db.session.execute(
        update(Voucher).where(Voucher.member_id != member_id).values(status="redeemed")
    )
    db.session.commit()
    bad = put_rule(client, admin, "movie", no_show_limit=2)
    assert bad.status_code == 400 and bad.get_json()["code"] == "incomplete_rule"
    assert (
        put_rule(client, admin, "nonsense", monthly_limit=1).get_json()["code"] == "unknown_scope"
    )
    assert put_rule(client, admin, "movie", no_show_limit=2, ban_days=30).status_code == 200
    made = quotas.sweep_no_shows()
    assert [(b.member_id, b.scope, b.no_shows) for b in made] == [(member_id, "movie", 2)]
    assert quotas.sweep_no_shows() == []  # idempotent
    app_ctx.extensions.pop("flashsale.rules", None)

    movie = create_sale(client, owner, total_stock=5)
    concert = create_sale(client, owner, total_stock=5, category="concert")
    refused = claim(movie, token)
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["code"] == "no_show_ban" and body["scope"] == "movie"
    assert body["until"][:10] == (utcnow() + timedelta(days=30)).date().isoformat()
    assert claim(concert, token).status_code == 201
    assert claim(movie, punctual).status_code == 201
    mine = client.get("/api/v1/me/sale-limits", headers=bearer(token)).get_json()
    assert [b["scope"] for b in mine["bans"]] == ["movie"]

    listed = client.get("/api/v1/admin/no-show-bans", headers=bearer(admin)).get_json()
    assert [b["member_id"] for b in listed] == [member_id]
    assert client.get("/api/v1/admin/no-show-bans", headers=bearer(token)).status_code == 403
    ban_id = listed[0]["id"]
    lifted = client.post(f"/api/v1/admin/no-show-bans/{ban_id}/lift",
                         json={"reason": "hospital stay"}, headers=bearer(admin))  # fmt: skip
    assert lifted.status_code == 200 and lifted.get_json()["lift_reason"] == "hospital stay"
    again = client.post(f"/api/v1/admin/no-show-bans/{ban_id}/lift",
                        json={"reason": "x"}, headers=bearer(admin))  # fmt: skip
    assert again.status_code == 409 and again.get_json()["code"] == "already_lifted"
    assert claim(movie, token).status_code == 201
    actions = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.subject_id == str(member_id), AuditEvent.action.like("no_show.%")
        )
    ).all()
    assert sorted(actions) == ["no_show.ban", "no_show.lift"]
    assert db.session.get(NoShowBan, ban_id).lifted_at is not None
    # The no-shows the lifted ban used up do not ban again.
    assert quotas.sweep_no_shows() == []


# --------------------------------------------------------------------------- races

MEMBERS, DEVICES, LIMIT = 12, 4, 2


def quota_race(config, client, owner):
    """Each member's four devices claim in four sales at once (two rounds, own keys); one sale
    has fewer tickets than members, so stock refusals give holds back in the middle of it."""
    members = make_members(MEMBERS, start=500)
    sales = [create_sale(client, owner, total_stock=MEMBERS * DEVICES) for _ in range(3)]
    sales.append(create_sale(client, owner, total_stock=3, category="concert"))
    ctx = multiprocessing.get_context("fork")
    with gunicorn_server(config, threads=4, workers=2) as base:
        barrier, out = ctx.Barrier(DEVICES), ctx.Queue()
        orders = [sales[d:] + sales[:d] for d in range(DEVICES)]  # each device its own order
        procs = [
            ctx.Process(target=device, args=(base, orders[d], members, d, 2, barrier, out))
            for d in range(DEVICES)
        ]
        for p in procs:
            p.start()
        results = [r for _ in procs for r in out.get(timeout=180)]
        for p in procs:
            p.join(10)
    return members, sales, results


def check_race(members, sales, results, drain):
    wins = Counter()
    claims = set()
    for member_id, sale, status, what in results:
        assert status in (201, 409), (status, what)
        if status == 201:
            claims.add((member_id, sale, what))
        else:
            assert what in ("quota_exceeded", "sold_out", "limit_reached"), what
    for member_id, _, _ in claims:
        wins[member_id] += 1
    assert max(wins.values()) <= LIMIT, wins  # never above the quota
    assert len(wins) == MEMBERS  # everyone got something
    drain()
    db.session.rollback()
    rows = db.session.execute(select(Voucher.member_id).where(Voucher.campaign_id.in_(sales))).all()
    in_sql = Counter(r.member_id for r in rows)
    assert in_sql == wins
    # Exact: what the quota counts is what the members hold (no leaked or lost hold).
    for member_id, _ in members:
        assert counted(member_id, sales[0]).get("*", 0) == wins[member_id], member_id
    return sum(wins.values())


def test_quota_race_on_standalone_redis(app_ctx, client, app_config, drain):
    admin = admin_token()
    _, owner = make_merchant()
    put_rule(client, admin, "*", monthly_limit=LIMIT)
    members, sales, results = quota_race(app_config, client, owner)
    won = check_race(members, sales, results, drain)
    print(f"standalone: {len(results)} claims, {won} won, quota {LIMIT} x {MEMBERS}")


@pytest.mark.cluster
def test_quota_race_on_the_redis_cluster(cluster_app, app_config, redis_cluster):  # noqa: F811
    from flashsale.jobs import drain_outbox
    from flashsale.room import room_keys

    host, port = redis_cluster.startup_nodes[0]
    config = dict(app_config, REDIS_URL=f"redis+cluster://{host}:{port}")
    client = cluster_app.test_client()
    with cluster_app.app_context():
        admin = admin_token()
        _, owner = make_merchant()
        put_rule(client, admin, "*", monthly_limit=LIMIT)
        members, sales, results = quota_race(config, client, owner)
        won = check_race(members, sales, results, lambda: drain_outbox(kind="test"))
        # The member's quota and the sales' stock really are on different shards.
        cluster = get_redis()
        slot = cluster.keyslot
        node = lambda key: cluster.get_node_from_key(key).name  # noqa: E731
        pairs = {(node(quotas.member_keys(m, "202601")[0]), node(room_keys(s)[-1]))
                 for m, _ in members for s in sales}  # fmt: skip
        assert any(a != b for a, b in pairs), pairs
        assert slot(quotas.member_keys(1, "202601")[0]) == slot(quotas.member_keys(1, "0")[1])
        print(f"cluster: {len(results)} claims, {won} won, quota {LIMIT} x {MEMBERS}")


def test_admin_page_sets_a_rule_and_lifts_a_ban(app_ctx, client):
    import re

    from marketplace.auth.services import create_account
    from tests.merchant_portal.conftest import fresh_g

    account = create_account("boss2", "admin-pass-1", "admin")
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    fresh_g()
    page = client.get("/admin/sale-rules")
    assert page.status_code == 200 and 'data-testid="rule-movie"' in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": token, "monthly_limit": "3", "no_show_limit": "2", "ban_days": "30"}
    fresh_g()
    assert client.post("/admin/sale-rules/movie", data=form).status_code == 302
    assert [(r.scope, r.monthly_limit, r.ban_days) for r in quotas.rules()] == [("movie", 3, 30)]
    fresh_g()
    bad = client.post("/admin/sale-rules/movie", data={**form, "monthly_limit": "x"})
    assert bad.status_code == 302
    assert quotas.rules()[0].monthly_limit == 3  # bad input changed nothing
    ban = NoShowBan(member_id=7, scope="movie", no_shows=2, until=utcnow() + timedelta(days=3))
    db.session.add(ban)
    db.session.commit()
    fresh_g()
    assert f'data-testid="ban-{ban.id}"' in client.get("/admin/sale-rules").get_data(as_text=True)
    fresh_g()
    lifted = client.post(f"/admin/sale-rules/bans/{ban.id}/lift",
                         data={"csrf_token": token, "reason": "appeal upheld"})  # fmt: skip
    assert lifted.status_code == 302
    db.session.refresh(ban)
    assert ban.lifted_at is not None and ban.lift_reason == "appeal upheld"


def test_member_page_says_why_and_until_when(app_ctx, client):
    from tests.merchant_portal.conftest import fresh_g

    ((member_id, _),) = make_members(1)
    from marketplace.auth.models import Account

    account = db.session.scalar(select(Account).where(Account.member_id == member_id))
    db.session.add(NoShowBan(member_id=member_id, scope="movie", no_shows=3,
                             until=utcnow() + timedelta(days=3)))  # fmt: skip
    db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    fresh_g()
    html = client.get("/m/wallet").get_data(as_text=True)
    assert 'data-testid="no-show-ban"' in html and "movie" in html


def test_a_quota_refusal_is_counted_and_a_lost_pool_gives_the_hold_back(app_ctx, client, claim):
    """Mutation run of issue #19: the outcome a quota refusal counts, and the quota hold given
    back when the sale's pool is not loaded (503) — else the member would lose a month's ticket
    to a claim that never happened."""
    from prometheus_client import REGISTRY

    from flashsale.hotpath import get_engine

    def outcome_count(outcome):
        return REGISTRY.get_sample_value("shihui_claims_total", {"outcome": outcome}) or 0.0

    app_ctx.config.update(FLASHSALE_CLAIM_RATE=1000, FLASHSALE_META_TTL=0)
    admin = admin_token()
    _, owner = make_merchant()
    ((member_id, token),) = make_members(1)
    won, over, lost = (create_sale(client, owner, total_stock=5) for _ in range(3))
    assert put_rule(client, admin, "*", monthly_limit=2).status_code == 200
    app_ctx.extensions.pop("flashsale.rules", None)

    engine = get_engine()
    engine.retire_pool(str(lost))  # Redis lost this sale's pool while it runs
    engine.forget(str(lost))
    resp = claim(lost, token)
    assert (resp.status_code, resp.get_json()["code"]) == (503, "service_unavailable")
    assert counted(member_id, lost) == {}  # the hold went back

    assert claim(won, token).status_code == 201
    assert counted(member_id, won) == {"*": 1, "movie": 1}
    assert put_rule(client, admin, "*", monthly_limit=1).status_code == 200
    app_ctx.extensions.pop("flashsale.rules", None)
    before = outcome_count("quota_exceeded")
    refused = claim(over, token)
    assert refused.get_json()["code"] == "quota_exceeded"
    assert outcome_count("quota_exceeded") == before + 1
