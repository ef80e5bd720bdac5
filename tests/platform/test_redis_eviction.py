"""A Redis that may evict keys would silently drop stock and outbox entries: `/readyz` fails and
`shihui up` refuses to start on one. Each test sets the policy with CONFIG SET on a server of its
own (never the shared one)."""

import os
import subprocess
import sys

import pytest
import redis

from inventory.server import EmbeddedRedis
from marketplace.redis_setup import eviction_risk, eviction_risk_at
from shihui import create_app

EVICTING = ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-ttl"]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    with EmbeddedRedis(tmp_path_factory.mktemp("evict")) as server:
        yield server


@pytest.fixture
def own_redis(own_server):
    client = redis.Redis.from_url(own_server.url)
    yield client
    client.config_set("maxmemory", 0)
    client.config_set("maxmemory-policy", "noeviction")
    client.close()


def configure(client, maxmemory, policy) -> None:
    client.config_set("maxmemory", maxmemory)
    client.config_set("maxmemory-policy", policy)


@pytest.mark.parametrize("policy", EVICTING)
def test_an_evicting_policy_with_a_memory_limit_is_named(own_redis, policy):
    configure(own_redis, "100mb", policy)
    risk = eviction_risk(own_redis)
    assert risk is not None
    assert f"maxmemory-policy is {policy}" in risk and str(100 * 1024 * 1024) in risk


def test_noeviction_with_a_limit_is_safe(own_redis):
    configure(own_redis, "100mb", "noeviction")
    assert eviction_risk(own_redis) is None


def test_without_a_memory_limit_the_policy_cannot_evict(own_redis):
    # maxmemory 0: Redis never evicts, whatever the policy says.
    configure(own_redis, 0, "allkeys-lru")
    assert eviction_risk(own_redis) is None


def test_a_user_who_may_not_read_info_is_not_trusted(own_redis, own_server):
    own_redis.acl_setuser("noinfo", enabled=True, passwords=["+pw-noinfo"], keys=["*"],
                          commands=["+@all", "-info"])  # fmt: skip
    limited = redis.Redis(port=own_server.port, username="noinfo", password="pw-noinfo")
    try:
        assert limited.ping()
        risk = eviction_risk(limited)
        assert risk is not None and risk.startswith("cannot read INFO memory")
    finally:
        limited.close()
        own_redis.acl_deluser("noinfo")


def test_the_named_risk_is_real(own_redis):
    """What the check guards against: with allkeys-lru keys vanish; with noeviction writes fail
    loudly instead."""
    own_redis.flushall()
    configure(own_redis, "2mb", "allkeys-lru")
    for i in range(2000):
        own_redis.set(f"stock:{i}", "x" * 1000)
    assert own_redis.dbsize() < 2000  # silently evicted
    own_redis.flushall()
    configure(own_redis, "2mb", "noeviction")
    with pytest.raises(redis.ResponseError, match="maxmemory"):
        for i in range(2000):
            own_redis.set(f"stock:{i}", "x" * 1000)
    own_redis.flushall()


def test_every_cluster_primary_is_checked(redis_cluster):
    from marketplace.redis_setup import make_client

    client = make_client(f"redis+cluster://127.0.0.1:{redis_cluster.nodes[0].port}")
    last = redis.Redis(port=redis_cluster.nodes[-1].port)
    try:
        assert eviction_risk(client) is None
        configure(last, "100mb", "volatile-lru")
        risk = eviction_risk(client)
        assert risk is not None and f"127.0.0.1:{redis_cluster.nodes[-1].port}" in risk
    finally:
        configure(last, 0, "noeviction")
        client.close()


def test_readyz_fails_naming_the_policy_and_recovers(own_redis, own_server, app_config, _schema):
    url = own_server.url
    app = create_app(dict(app_config, REDIS_URL=url, RQ_REDIS_URL=url[:-1] + "1"))
    web = app.test_client()
    assert web.get("/readyz").status_code == 200

    configure(own_redis, "100mb", "allkeys-lru")
    resp = web.get("/readyz")
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["code"] == "not_ready" and body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unsafe: maxmemory-policy is allkeys-lru")
    assert "maxmemory-policy is allkeys-lru" in body["detail"]

    configure(own_redis, "100mb", "noeviction")
    assert web.get("/readyz").status_code == 200


def test_up_refuses_an_evicting_redis_before_touching_anything(own_redis, own_server, tmp_path):
    configure(own_redis, "100mb", "allkeys-lfu")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "RQ_REDIS_URL"}}
    env.update(REDIS_URL=own_server.url, SHIHUI_INSTANCE=str(tmp_path / "instance"))
    done = subprocess.run(
        [sys.executable, "-m", "shihui", "up", "--no-demo", "--web-workers", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refusing to start: maxmemory-policy is allkeys-lfu" in done.stderr
    assert "Shihui is up" not in done.stdout
    assert not (tmp_path / "instance" / "shihui.db").exists()  # not even migrated


def test_eviction_risk_at_an_unreachable_server_defers_to_readyz():
    from inventory.server import free_port

    assert eviction_risk_at(f"redis://127.0.0.1:{free_port()}/0") is None
