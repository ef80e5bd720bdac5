"""The draw's bulk steps (issue #14 item 3, 500,000 entrants under 60 s): every place and
outcome in one ``UPDATE ... FROM``, the winners' vouchers in pipelined reserves — and a draw
whose reserves stop half-way resumes to the same result."""

from __future__ import annotations

from datetime import timedelta

from flashsale import lottery
from flashsale.audit import run_audit
from flashsale.hotpath import get_engine
from flashsale.models import Campaign, LotteryEntry, Voucher
from marketplace.extensions import db

from .factories import bearer, make_members, make_merchant
from .lotterykit import CAMPAIGNS, close_now, lottery_sale, problem, register


def entries(sale) -> dict[str, LotteryEntry]:
    db.session.rollback()
    rows = db.session.scalars(db.select(LotteryEntry).where(LotteryEntry.campaign_id == sale))
    return {e.ticket: e for e in rows}


def test_the_bulk_store_writes_every_place_and_outcome(app_ctx, client, runner):
    _, owner = make_merchant()
    members = make_members(9)
    sale = lottery_sale(client, owner, total_stock=3, confirm_hours=3)
    for _, token in members:
        assert register(client, sale, token).status_code == 201
    close_now(sale)
    assert client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner)).status_code == 200
    draw = lottery.get_draw(sale)
    drawn = lottery.order(draw.seed, draw.beacon_value, lottery.entrant_lines(sale))
    stored = entries(sale)
    assert [stored[t].position for t in drawn] == list(range(1, 10))
    assert [stored[t].outcome for t in drawn] == ["won"] * 3 + ["waiting"] * 6
    for t in drawn[:3]:
        e = stored[t]
        assert e.won_at is not None and e.confirm_by == e.won_at + timedelta(hours=3)
        assert e.reason is None and e.weight is None  # an unweighted sale stores no weight
    for t in drawn[3:]:
        assert (stored[t].won_at, stored[t].confirm_by, stored[t].reason) == (None, None, None)
    assert lottery.verify(sale) == []


def test_a_draw_whose_reserves_stop_half_way_resumes(app_ctx, client, drain, runner):
    """The pool hands out 2 of 4 vouchers, then runs dry (as if its stock were lost): the
    draw stores its decisions, reserves what it can and answers 503 ``draw_incomplete``.
    ``shihui draw run --resume`` keeps every decision, replays the 2 reserves (request id
    ``draw``: no second voucher) and takes the other 2; the audit balances."""
    _, owner = make_merchant()
    members = make_members(8)
    sale = lottery_sale(client, owner, total_stock=4)
    for _, token in members:
        register(client, sale, token)
    close_now(sale)
    engine = get_engine()
    pool = engine.keys(db.session.get(Campaign, sale).pool_id).pool
    engine.client.hset(pool, "stock", 2)
    problem(client.post(f"{CAMPAIGNS}/{sale}/draw", headers=bearer(owner)), 503,
            "draw_incomplete")  # fmt: skip
    before = {t: (e.position, e.outcome) for t, e in entries(sale).items()}
    assert sorted(o for _, o in before.values()) == ["waiting"] * 4 + ["won"] * 4
    drain()
    db.session.rollback()
    first = dict(db.session.execute(db.select(Voucher.member_id, Voucher.claim_id)
                                    .where(Voucher.campaign_id == sale)).all())  # fmt: skip
    assert len(first) == 2
    engine.client.hset(pool, "stock", 2)  # the stock is back
    result = runner.invoke(args=["draw", "run", str(sale), "--resume"])
    assert result.exit_code == 0, result.output
    assert {t: (e.position, e.outcome) for t, e in entries(sale).items()} == before
    drain()
    db.session.rollback()
    vouchers = dict(db.session.execute(db.select(Voucher.member_id, Voucher.claim_id)
                                       .where(Voucher.campaign_id == sale)).all())  # fmt: skip
    winners = {e.member_id for e in entries(sale).values() if e.outcome == "won"}
    assert set(vouchers) == winners
    assert all(vouchers[m] == c for m, c in first.items())  # the first two replayed
    assert engine.stats(db.session.get(Campaign, sale).pool_id).remaining == 0
    assert run_audit(sale).ok
