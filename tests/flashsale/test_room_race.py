"""Races on real Redis, over HTTP (gunicorn, several client processes), standalone and on the
3-master cluster: the room never lets in more members than the rule allows, and a pass wins at
most one claim however many requests carry it at once."""

from __future__ import annotations

import math
import multiprocessing
from collections import Counter

import pytest

from flashsale.models import Voucher
from marketplace.extensions import db
from tests.conftest import gunicorn_server

from .factories import make_members, make_merchant
from .room_racers import claim_with, poll_and_claim
from .roomkit import join, me, queue_sale
from .test_cluster_e2e import cluster_app  # noqa: F401 - the fixture

STOCK, FACTOR, MEMBERS, PROCS = 20, 1.2, 96, 6


def race(config, client, drain):
    _, owner = make_merchant()
    members = make_members(MEMBERS)
    sale = queue_sale(client, owner, total_stock=STOCK, admission_rate=500, over_admission=FACTOR)
    for _, token in members:
        assert join(client, sale, token).status_code == 200
    ctx = multiprocessing.get_context("fork")
    with gunicorn_server(config, threads=4, workers=2) as base:
        # Phase 1: everyone polls, nobody claims (1.5 s), then they claim as they are let in.
        barrier, out = ctx.Barrier(PROCS), ctx.Queue()
        share = [members[i::PROCS] for i in range(PROCS)]
        procs = [
            ctx.Process(target=poll_and_claim, args=(base, sale, part, 6.0, 1.5, barrier, out))
            for part in share
        ]
        for p in procs:
            p.start()
        runs = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(10)
    return sale, members, runs


def check(sale, members, runs, client, drain):
    from flashsale.room import room_keys
    from marketplace.extensions import get_redis

    cap = math.floor(STOCK * FACTOR)
    passes = {}
    for run in runs:
        for member, places in run["passes"].items():
            assert len(places) == 1, (member, places)  # one place per member, ever
            passes[member] = places[0]
    # Every pass stands for a different place, and never more places than the rule allows:
    # floor(stock x factor) with no claim taken, and (claims free room) never above it in all.
    assert len(set(passes.values())) == len(passes)
    admitted = int(get_redis().hget(room_keys(sale)[0], "F"))
    assert len(passes) <= admitted <= cap, (len(passes), admitted, cap)
    claims = [c for run in runs for c in run["claims"]]
    won = [c for c in claims if c[2] == 201]
    by_member = {}
    for member, place, _, claim_id in won:
        by_member.setdefault(member, set()).add(claim_id)
    assert all(len(ids) == 1 for ids in by_member.values()), by_member  # a pass wins once
    assert len(by_member) <= STOCK
    refused = Counter(c[3] for c in claims if c[2] != 201)
    assert set(refused) <= {"sold_out"}, refused
    drain()
    db.session.rollback()
    rows = db.session.scalars(db.select(Voucher).where(Voucher.campaign_id == sale)).all()
    assert len(rows) == len(by_member)
    assert Counter(v.member_id for v in rows).most_common(1)[0][1] == 1
    return len(passes), len(by_member)


def shared_pass_race(config, client, sale, shared, n=8):
    member_id, token, queue_pass = shared
    ctx = multiprocessing.get_context("fork")
    with gunicorn_server(config, threads=4, workers=2) as base:
        barrier, out = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=claim_with, args=(base, sale, token, queue_pass, i, barrier,
                                                      out)) for i in range(n)]  # fmt: skip
        for p in procs:
            p.start()
        answers = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(10)
    return answers


def _shared_sale(client):
    _, owner = make_merchant(name="另一家", username="owner9")
    ((member_id, token),) = make_members(1, start=900)
    sale = queue_sale(client, owner, total_stock=5, admission_rate=500)
    join(client, sale, token)
    return sale, (member_id, token, me(client, sale, token).get_json()["pass"])


def test_room_race_on_standalone_redis(app_ctx, client, app_config, drain):
    sale, members, runs = race(app_config, client, drain)
    seen, won = check(sale, members, runs, client, drain)
    print(f"standalone: {seen} passes seen, {won} claims won, cap {math.floor(STOCK * FACTOR)}")
    assert won == STOCK  # with members polling, the whole stock goes
    shared_sale, shared = _shared_sale(client)
    answers = shared_pass_race(app_config, client, shared_sale, shared)
    assert {status for status, _ in answers} == {201}
    assert len({claim_id for _, claim_id in answers}) == 1, answers
    assert me(client, shared_sale, shared[1]).get_json()["remaining"] == 4


@pytest.mark.cluster
def test_room_race_on_the_redis_cluster(cluster_app, app_config, redis_cluster):  # noqa: F811
    from flashsale.jobs import drain_outbox

    host, port = redis_cluster.startup_nodes[0]
    config = dict(app_config, REDIS_URL=f"redis+cluster://{host}:{port}")
    client = cluster_app.test_client()
    with cluster_app.app_context():
        drain = lambda: drain_outbox(kind="test")  # noqa: E731
        sale, members, runs = race(config, client, drain)
        seen, won = check(sale, members, runs, client, drain)
        print(f"cluster: {seen} passes seen, {won} claims won")
        assert won == STOCK
        shared_sale, shared = _shared_sale(client)
        answers = shared_pass_race(config, client, shared_sale, shared)
        assert {status for status, _ in answers} == {201}
        assert len({claim_id for _, claim_id in answers}) == 1, answers
        assert me(client, shared_sale, shared[1]).get_json()["remaining"] == 4
