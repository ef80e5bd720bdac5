"""A lottery's result notices: winners are told by the draw itself, the waiting list by an RQ job
after it (issue #14's 500,000-entrant draw must not wait for ~460,000 inbox rows); every entrant
is told exactly once, however often the job runs or wherever it stopped."""

from __future__ import annotations

from collections import Counter

from flashsale import lottery
from flashsale.jobs import tell_lottery_waiting
from flashsale.models import LotteryEntry
from marketplace.extensions import db, get_queue
from marketplace.notices import notify_many
from messaging.models import Notice

from .factories import make_members, make_merchant
from .lotterykit import draw, lottery_sale, register


def told(sale) -> list[tuple[int, str]]:
    db.session.rollback()
    rows = db.session.execute(db.select(Notice.member_id, Notice.kind)
                              .where(Notice.key == f"lottery:{sale}"))  # fmt: skip
    return [(m, k) for m, k in rows]


def outcomes(sale) -> dict[int, str]:
    db.session.rollback()
    rows = db.session.execute(db.select(LotteryEntry.member_id, LotteryEntry.outcome)
                              .where(LotteryEntry.campaign_id == sale))  # fmt: skip
    return {m: o for m, o in rows}


def test_a_draws_notices_are_all_delivered_exactly_once(app_ctx, client):
    _, owner = make_merchant()
    members = make_members(9)
    sale = lottery_sale(client, owner, total_stock=2)
    for _, token in members:
        assert register(client, sale, token).status_code == 201
    draw(client, sale, owner)
    state = outcomes(sale)
    winners = {m for m, o in state.items() if o == "won"}
    waiting = [m for m, o in state.items() if o == "waiting"]
    assert len(winners) == 2 and len(waiting) == 7

    # The draw told the winners at once; the waiting list is the queued job's.
    assert sorted(told(sale)) == sorted((m, "lottery.won") for m in winners)
    jobs = [j for j in get_queue("default").jobs if j.func_name.endswith("tell_lottery_waiting")]
    assert [j.args for j in jobs] == [(sale,)]

    # A job that stopped half-way (two of the list told), then runs in small chunks, then again.
    notify_many(waiting[:2], "lottery.waiting", {"campaign_id": sale, "title": "x"},
                key=f"lottery:{sale}")  # fmt: skip
    assert lottery.tell_waiting(sale, chunk=3) == 7
    assert tell_lottery_waiting(sale) == 7
    assert tell_lottery_waiting(sale) == 7

    rows = told(sale)
    per_member = Counter(m for m, _ in rows)
    assert set(per_member) == set(state) and set(per_member.values()) == {1}, per_member
    assert {m for m, k in rows if k == "lottery.waiting"} == set(waiting)
    assert {m for m, k in rows if k == "lottery.won"} == winners
