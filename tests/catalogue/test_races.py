"""Concurrent joins at the last free place, from separate processes through gunicorn."""

import multiprocessing
import time
from collections import Counter

from sqlalchemy import func, select

from catalogue.engine import get_engine
from catalogue.models import GroupBuy, GroupBuyParticipant
from marketplace.extensions import db

from . import factories as f
from .racers import join_at

RACERS = 8


def _race(live_server, deal_id, tokens, team_id=None):
    start_at = time.time() + 1.0
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(tokens)) as pool:
        args = [(live_server, deal_id, t, start_at, team_id) for t in tokens]
        return pool.starmap(join_at, args)


def test_last_place_of_a_tipping_deal_goes_to_exactly_one_process(app_ctx, client, live_server):
    _, owner, _ = f.merchant()
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner,
                    f.deal_body(min_participants=2, max_participants=3))  # fmt: skip
    for _ in range(2):
        assert client.post(f"/api/v1/groupbuys/{deal['id']}/join",
                           headers=f.bearer(f.member()[1])).status_code == 201  # fmt: skip
    tokens = [f.member()[1] for _ in range(RACERS)]
    results = _race(live_server, deal["id"], tokens)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: RACERS - 1}, results
    assert {body["code"] for status, body in results if status == 409} == {"groupbuy_full"}
    db.session.expire_all()
    live = db.session.execute(
        select(func.count()).where(GroupBuyParticipant.state == "joined")
    ).scalar_one()
    assert live == 3 == db.session.get(GroupBuy, deal["id"]).joined
    assert get_engine().stats(f"gb-{deal['id']}").remaining == 0


def test_last_seat_of_a_team_goes_to_exactly_one_process(app_ctx, client, live_server):
    _, owner, _ = f.merchant()
    body = f.deal_body(mode="team", team_size=2, team_window_seconds=3600, min_participants=1,
                       max_participants=4)  # fmt: skip
    deal = f.create(client, "/api/v1/merchant/groupbuys", owner, body)
    opened = client.post(f"/api/v1/groupbuys/{deal['id']}/join", headers=f.bearer(f.member()[1]))
    team_id = opened.get_json()["team_id"]
    results = _race(live_server, deal["id"], [f.member()[1] for _ in range(RACERS)], team_id)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: RACERS - 1}, results
    db.session.expire_all()
    from catalogue.models import GroupBuyTeam, GroupBuyVoucher

    assert db.session.get(GroupBuyTeam, team_id).state == "succeeded"
    assert db.session.execute(select(func.count()).select_from(GroupBuyVoucher)).scalar_one() == 2
