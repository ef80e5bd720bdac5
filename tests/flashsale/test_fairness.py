"""Fairness figures (docs/flashsale.md "Fairness in the open"): computed from the engine's
records and SQL, published by the admin after the sale, read by members, shown with charts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from flashsale.models import Campaign
from marketplace import orgs
from marketplace.extensions import db
from marketplace.members.models import Member
from marketplace.models import utcnow

from .factories import bearer, create_sale, make_members, make_merchant
from .test_merchant_api import admin_token


def test_figures_of_a_first_come_sale(app_ctx, client, claim, drain):
    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    members = make_members(10)
    east, west = orgs.ensure_branch("310101", "东分会"), orgs.ensure_branch("310101", "西分会")
    for n, (member_id, _) in enumerate(members):
        db.session.execute(update(Member).where(Member.id == member_id)
                           .values(org_id=east if n < 4 else west))  # fmt: skip
    db.session.commit()
    earlier = create_sale(client, owner, total_stock=2)
    for _, token in members[:2]:  # two members won a ticket before
        assert claim(earlier, token).status_code == 201
    sale = create_sale(client, owner, total_stock=3)
    for n in (0, 4, 5, 6, 7):  # five press, the first three win; the last two are refused from
        claim(sale, members[n][1])  # memory (sold out): they never reached the stock
    drain()

    early = client.post(f"/api/v1/admin/sales/{sale}/fairness", headers=bearer(admin))
    assert early.status_code == 409 and early.get_json()["code"] == "sale_not_over"
    assert (
        client.get(f"/api/v1/flashsales/{sale}/fairness", headers=bearer(members[0][1])).get_json()[
            "code"
        ]
        == "not_published"
    )
    db.session.execute(update(Campaign).where(Campaign.id == sale)
                       .values(ends_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    db.session.commit()
    assert (
        client.post(
            f"/api/v1/admin/sales/{sale}/fairness", headers=bearer(members[0][1])
        ).status_code
        == 403
    )
    resp = client.post(f"/api/v1/admin/sales/{sale}/fairness", headers=bearer(admin))
    assert resp.status_code == 200, resp.get_json()
    f = client.get(f"/api/v1/flashsales/{sale}/fairness", headers=bearer(members[9][1])).get_json()
    assert (f["entrants"], f["winners"], f["win_rate"]) == (3, 3, 1.0)
    assert f["entrants_basis"] == "reached_stock"
    by_branch = {r["group"]: (r["entrants"], r["winners"]) for r in f["by_branch"]}
    assert by_branch == {"东分会": (1, 1), "西分会": (2, 2)}
    prior = {r["group"]: (r["entrants"], r["winners"]) for r in f["by_prior_wins"]}
    assert prior == {"0": (2, 2), "1": (1, 1)}
    assert f["excluded"] == {"no_show_ban": 0}


def test_figures_of_a_queue_sale_count_everyone_in_the_room(app_ctx, client):
    from flashsale import fairness

    from .roomkit import join, queue_sale

    _, owner = make_merchant()
    members = make_members(6)
    sale = queue_sale(client, owner, total_stock=2, admission_rate=500)
    for _, token in members:
        assert join(client, sale, token).status_code == 200
    f = fairness.compute(db.session.get(Campaign, sale))
    assert (f["entrants"], f["winners"], f["entrants_basis"]) == (6, 0, "joined_room")


def test_fairness_page_has_charts(app_ctx, client, claim, drain):
    from marketplace.auth.models import Account
    from tests.merchant_portal.conftest import fresh_g

    app_ctx.config["FLASHSALE_CLAIM_RATE"] = 1000
    admin = admin_token()
    _, owner = make_merchant()
    ((member_id, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=3)
    claim(sale, token)
    drain()
    db.session.execute(update(Campaign).where(Campaign.id == sale)
                       .values(ends_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    db.session.commit()
    assert (
        client.post(f"/api/v1/admin/sales/{sale}/fairness", headers=bearer(admin)).status_code
        == 200
    )
    account = db.session.scalar(db.select(Account).where(Account.member_id == member_id))
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{account.id}:{account.token_version}"
        sess["_fresh"] = True
    fresh_g()
    html = client.get(f"/m/sales/{sale}/fairness").get_data(as_text=True)
    assert 'data-testid="chart-by_branch"' in html and "<svg" in html
    assert 'data-testid="fairness-summary"' in html
    fresh_g()
    assert client.get("/m/sales/999999/fairness").status_code == 404
