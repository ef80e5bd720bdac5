"""Weighted lottery draws: hardship and lost draws weigh more, as stated with the sale; the
weights are in the published entrants list and the draw recomputes from it; with a fixed seed,
weights have the stated effect; the hardship flag comes from the roster or an admin."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from flashsale import lottery
from marketplace.auth.services import create_account
from marketplace.extensions import db
from marketplace.members.models import Member
from tests.authz import outcome

from .factories import bearer, make_members, make_merchant, token_for
from .lotterykit import draw, entry, lottery_sale, problem, public, recompute, register

CAMPAIGNS = "/api/v1/merchant/campaigns"


def test_weighted_sale_publishes_weights_and_recomputes(app_ctx, client, runner):
    _, owner = make_merchant()
    members = make_members(8)
    token = dict(members)
    admin = token_for(create_account("boss", "admin-pass-1", "admin"))
    # An earlier lottery: members 0-3 register, one ticket: three of them lose.
    first = lottery_sale(client, owner, total_stock=1)
    for m, t in members[:4]:
        register(client, first, t)
    draw(client, first, owner)
    lost = {m for m, t in members[:4] if entry(client, first, t)["state"] == "waiting"}
    assert len(lost) == 3
    hard = members[5][0]
    resp = client.put(f"/api/v1/admin/members/{hard}/hardship", json={"hardship": True},
                      headers=bearer(admin))  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["hardship"] is True

    problem(client.post(CAMPAIGNS, json={"title": "x", "category": "movie", "total_stock": 1,
                                         "hardship_weight": 2, "starts_at": "2030-01-01T00:00:00Z",
                                         "ends_at": "2030-01-02T00:00:00Z",
                                         "valid_from": "2030-01-01T00:00:00Z",
                                         "valid_until": "2030-01-03T00:00:00Z"},
                        headers=bearer(owner)), 422, "validation_error")  # fmt: skip
    sale = lottery_sale(client, owner, total_stock=3, hardship_weight=3,
                        loss_weight=1, loss_cap=2)  # fmt: skip
    shown = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(members[0][1])).get_json()
    assert (shown["hardship_weight"], shown["loss_weight"], shown["loss_cap"]) == (3, 1, 2)
    before = client.get(f"/api/v1/flashsales/{sale}/draw", headers=bearer(members[0][1]))
    assert before.get_json()["weights"]["hardship_weight"] == 3  # stated before the draw
    # Stated rules are fixed once published.
    resp = client.patch(f"{CAMPAIGNS}/{sale}", json={"loss_weight": 3}, headers=bearer(owner))
    problem(resp, 409, "not_editable")
    tickets = {m: register(client, sale, t).get_json()["ticket"] for m, t in members}
    draw(client, sale, owner)
    record, lines = public(client, sale, members[0][1])
    weights = {line.split()[0]: int(line.split()[1]) for line in lines}
    expected = {m: (3 if m == hard else 1) * (2 if m in lost else 1) for m in tickets}
    assert {m: weights[t] for m, t in tickets.items()} == expected
    digest, order, winners = recompute(record, lines)
    assert digest == record["entrants_hash"]
    won = {t for m, t in tickets.items() if entry(client, sale, token[m])["state"] == "won"}
    assert won == set(winners)
    assert [entry(client, sale, token[m])["position"] for m in tickets] == [
        order.index(tickets[m]) + 1 for m in tickets]  # fmt: skip
    result = runner.invoke(args=["draw", "verify", str(sale)])
    assert result.exit_code == 0 and result.output.startswith("OK"), result.output
    # A changed weight in the list no longer matches the published hash.
    bad = [f"{t} 9" if n == 0 else line for n, line in enumerate(lines) for t in [line.split()[0]]]
    assert lottery.verify(sale, lines=bad)


def test_weights_have_the_stated_effect():
    """Fixed seeds: a weight-3 entrant is drawn first three times as often as a weight-1 one,
    and unweighted (bare tickets, the first version's recipe) the draw is uniform."""
    heavy = [f"{n:016x}" for n in range(50)]
    light = [f"{n:016x}" for n in range(50, 200)]
    lines = [f"{t} 3" for t in heavy] + [f"{t} 1" for t in light]
    trials, first_heavy, top_heavy = 600, 0, 0
    for n in range(trials):
        beacon = hashlib.sha256(f"beacon-{n}".encode()).hexdigest()
        order = lottery.order("ab" * 32, beacon, lines)
        first_heavy += order[0] in heavy
        top_heavy += sum(t in heavy for t in order[:20])
    # P(first is heavy) = 150 / (150 + 150) = 0.5; unweighted it would be 0.25.
    assert 0.44 < first_heavy / trials < 0.56, first_heavy
    share = top_heavy / (trials * 20)
    assert 0.42 < share < 0.52, share  # successive weighted sampling, a bit below 0.5
    plain = heavy + light
    counts = Counter()
    for n in range(trials):
        beacon = hashlib.sha256(f"beacon-{n}".encode()).hexdigest()
        counts[lottery.order("ab" * 32, beacon, plain)[0] in heavy] += 1
    assert 0.19 < counts[True] / trials < 0.31, counts


def test_hardship_from_the_roster_and_authorization(app_ctx, client):
    from tests.members.helpers import details
    from tests.members.test_import import HEADER, roster, run_jobs, upload

    admin_account = create_account("boss", "admin-pass-1", "admin")
    admin = token_for(admin_account)
    rows = [[*(details(n, branch="分会")[c] for c in HEADER), flag]
            for n, flag in ((1, "是"), (2, ""), (3, "1"))]  # fmt: skip
    data = roster(rows, header=[*HEADER, "hardship"])
    assert upload(client, admin, data).status_code == 202
    run_jobs()
    flags = db.session.scalars(db.select(Member.hardship).order_by(Member.id)).all()
    assert flags == [True, False, True]
    # A roster without the column imports as before.
    assert upload(client, admin, roster([details(4, branch="分会")])).status_code == 202
    run_jobs()
    assert db.session.scalar(db.select(db.func.count()).select_from(Member)) == 4

    _, owner, clerk = make_merchant(clerk="clerk1")
    ((member_id, member),) = make_members(1, start=7)
    url = f"/api/v1/admin/members/{member_id}/hardship"
    assert client.put(url, json={"hardship": True}).status_code == 401
    for persona, tok in {"member": member, "owner": owner, "clerk": clerk,
                         "admin": admin}.items():  # fmt: skip
        resp = client.put(url, json={"hardship": True}, headers=bearer(tok))
        assert resp.status_code == outcome("member.hardship", persona), (persona, resp.json)
    problem(client.put(url, json={"hardship": "maybe"}, headers=bearer(admin)), 422,
            "validation_error")  # fmt: skip
    resp = client.put("/api/v1/admin/members/999999/hardship", json={"hardship": True},
                      headers=bearer(admin))  # fmt: skip
    assert resp.status_code == 404


@pytest.mark.parametrize("field,value", [("confirm_hours", 2), ("loss_weight", 1)])
def test_lottery_settings_only_on_lottery_sales(app_ctx, client, field, value):
    _, owner = make_merchant()
    from .factories import sale_body

    resp = client.post(CAMPAIGNS, json=sale_body(**{field: value}), headers=bearer(owner))
    problem(resp, 422, "validation_error")
    assert field in resp.get_json()["errors"]
