"""Lottery sales and the union's quotas: registration refused like a claim, a win counted
against the quota at the draw, a drawn member over quota or barred skipped with a published
reason (the next in order wins), the draw still recomputable, the figures counting the skips."""

from __future__ import annotations

from datetime import timedelta

from flashsale import fairness, quotas
from flashsale.audit import run_audit
from flashsale.models import Campaign, NoShowBan, Voucher
from marketplace.extensions import db
from marketplace.models import utcnow

from .factories import bearer, create_sale, make_members, make_merchant
from .lotterykit import draw, entry, lottery_sale, problem, public, recompute, register
from .lotterykit import secret_order as order_of


def ban(member_id: int) -> None:
    db.session.add(NoShowBan(member_id=member_id, scope="*", no_shows=2,
                             until=utcnow() + timedelta(days=30)))  # fmt: skip
    db.session.commit()
    quotas.sync_bans(member_id)
    quotas.publish_rules()


def test_quota_and_bans_at_registration_and_at_the_draw(app_ctx, client, claim, drain, runner):
    _, owner = make_merchant()
    members = make_members(8)
    token = dict(members)
    quotas.set_rule(None, "*", {"monthly_limit": 1})
    plain = create_sale(client, owner, total_stock=20)
    assert claim(plain, members[0][1]).status_code == 201  # this month's one ticket
    sale = lottery_sale(client, owner, total_stock=2)
    problem(register(client, sale, members[0][1]), 409, "quota_exceeded")
    ban(members[1][0])
    problem(register(client, sale, members[1][1]), 403, "no_show_ban")
    tickets = {m: register(client, sale, t).get_json()["ticket"] for m, t in members[2:]}
    assert len(tickets) == 6
    # The first two of the (still secret) order lose their right to a ticket before the draw.
    order = order_of(sale, list(tickets.values()))
    member_of = {t: m for m, t in tickets.items()}
    over, barred = member_of[order[0]], member_of[order[1]]
    assert claim(plain, token[over]).status_code == 201
    ban(barred)

    body = draw(client, sale, owner)
    assert (body["entrants"], body["winners"]) == (6, 2)
    record, lines = public(client, sale, token[over])
    assert [(e["ticket"], e["reason"]) for e in record["excluded"]] == [
        (order[0], "quota_exceeded"), (order[1], "no_show_ban")]  # fmt: skip
    digest, recomputed, winners = recompute(record, lines)
    assert digest == record["entrants_hash"] and recomputed == order
    assert winners == order[2:4]  # the next in order won instead
    assert entry(client, sale, token[over])["state"] == "excluded"
    assert entry(client, sale, token[over])["reason"] == "quota_exceeded"
    assert entry(client, sale, token[barred])["reason"] == "no_show_ban"
    for t in order[2:4]:
        assert entry(client, sale, token[member_of[t]])["state"] == "won"
    result = runner.invoke(args=["draw", "verify", str(sale)])
    assert result.exit_code == 0 and result.output.startswith("OK"), result.output

    # A win is a free ticket: counted against the quota like a claim.
    month = quotas.month_of(db.session.get(Campaign, sale).starts_at.timestamp())
    for t in winners:
        assert quotas.usage(member_of[t], [month])[month]["*"] == 1
    drain()
    db.session.rollback()
    query = db.select(Voucher.member_id).where(Voucher.campaign_id == sale)
    owners = set(db.session.scalars(query))
    assert owners == {member_of[t] for t in winners}
    assert run_audit(sale).ok

    # A waiting member over quota when a ticket comes back is skipped too; the next one gets it.
    waiting = order[4:]
    assert claim(plain, token[member_of[waiting[0]]]).status_code == 201
    giver = member_of[winners[0]]
    query = db.select(Voucher.code).where(Voucher.member_id == giver, Voucher.campaign_id == sale)
    code = db.session.scalar(query)
    assert client.post(f"/api/v1/me/vouchers/{code}/cancel",
                       headers=bearer(token[giver])).status_code == 200  # fmt: skip
    assert entry(client, sale, token[member_of[waiting[0]]])["state"] == "excluded"
    assert entry(client, sale, token[member_of[waiting[1]]])["state"] == "won"
    assert entry(client, sale, token[giver])["state"] == "passed"
    assert entry(client, sale, token[giver])["reason"] == "cancelled"
    record, lines = public(client, sale, token[over])
    assert [e["ticket"] for e in record["excluded"]] == [order[0], order[1], waiting[0]]
    assert recompute(record, lines)[2] == winners  # the published draw still recomputes
    assert runner.invoke(args=["draw", "verify", str(sale)]).exit_code == 0
    drain()
    assert run_audit(sale).ok

    db.session.execute(db.update(Campaign).where(Campaign.id == sale)
                       .values(ends_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    figures = fairness.compute(db.session.get(Campaign, sale))
    assert figures["excluded"]["drawn_over_quota"] == 2
    assert figures["excluded"]["drawn_barred"] == 1
