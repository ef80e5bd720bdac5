"""The whole app (not only the engine) on a 3-master Redis Cluster (``redis+cluster://``):
publish a sale, claim over HTTP through the app, drain to SQL, and audit."""

from __future__ import annotations

from collections import Counter

import pytest
from redis.cluster import RedisCluster

from flashsale.audit import run_audit
from flashsale.models import Voucher

from .factories import bearer, create_sale, make_members, make_merchant

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster_app(app, app_config, redis_cluster):
    """The app with REDIS_URL on the cluster (RQ stays on a standalone server, as it must).
    Depends on ``app`` so the database is emptied afterwards as usual."""
    from marketplace.extensions import db, get_redis
    from shihui import create_app

    host, port = redis_cluster.startup_nodes[0]
    config = dict(app_config, REDIS_URL=f"redis+cluster://{host}:{port}")
    capp = create_app(config)
    with capp.app_context():
        client = get_redis()
        assert isinstance(client, RedisCluster)
        client.flushall(target_nodes=RedisCluster.ALL_NODES)
    yield capp
    with capp.app_context():
        db.session.remove()
        get_redis().flushall(target_nodes=RedisCluster.ALL_NODES)
        db.engine.dispose()


def claim(client, sale, token, key):
    return client.post(
        f"/api/v1/flashsales/{sale}/claims", headers={**bearer(token), "Idempotency-Key": key}
    )


def test_sale_claims_drain_and_audit_on_a_cluster(cluster_app):
    from flashsale.jobs import drain_outbox
    from marketplace.extensions import db

    client = cluster_app.test_client()
    with cluster_app.app_context():
        cluster_app.config["FLASHSALE_CLAIM_RATE"] = 1000
        _, owner = make_merchant()
        members = make_members(30)
        sale = create_sale(client, owner, total_stock=20, per_member_limit=1)

        answers = []
        for n, (_, token) in enumerate(members):
            resp = claim(client, sale, token, f"cluster-{n:04d}")
            answers.append((resp.status_code, resp.get_json()))
        # A replay of a winner answers with the same voucher.
        replay = claim(client, sale, members[0][1], "cluster-0000")
        assert replay.status_code == 201
        assert replay.get_json()["voucher"]["code"] == answers[0][1]["voucher"]["code"]

        outcome = Counter(s if s == 201 else body["code"] for s, body in answers)
        assert outcome == {201: 20, "sold_out": 10}, outcome
        codes = {body["voucher"]["code"] for s, body in answers if s == 201}
        detail = client.get(f"/api/v1/flashsales/{sale}", headers=bearer(members[-1][1]))
        assert detail.status_code == 200 and detail.get_json()["remaining"] == 0

        drain_outbox(kind="test")
        db.session.rollback()
        stored = set(db.session.scalars(db.select(Voucher.code).where(Voucher.campaign_id == sale)))
        assert stored == codes
        audit = run_audit(sale)
        assert audit.ok, audit.as_dict()
        assert audit.sql_vouchers == audit.engine_claimed == 20

        # The member sees the voucher (through the same cluster-backed app).
        code = answers[0][1]["voucher"]["code"]
        mine = client.get("/api/v1/me/vouchers", headers=bearer(members[0][1])).get_json()
        assert [v["code"] for v in mine["items"]] == [code]
