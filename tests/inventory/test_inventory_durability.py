"""Durability of an acknowledged claim (issue #15), on a real master and replica.

With ``durability="replica"`` every reservation ``reserve`` returned is on the replica before it
returns: kill -9 the master right after a burst of claims from several threads, promote the
replica, and every acknowledged claim is there. With no replica to acknowledge, ``reserve``
raises ClaimNotDurable instead of returning a success. ``fsync`` waits for the master's AOF."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from inventory import ClaimNotDurable, StockEngine
from loadtests.cluster_parts import Server, master_and_replica

pytestmark = pytest.mark.slow


def rush(engine: StockEngine, pool: str, members: int, threads: int = 8) -> list[str]:
    """Reserve one unit for each of ``members`` members from ``threads`` threads."""
    acked: list[str] = []
    lock = threading.Lock()

    def run(offset: int):
        for m in range(offset, members, threads):
            result = engine.reserve(pool, f"m{m}", 1, f"req-{m}")
            if result.ok:
                with lock:
                    acked.append(result.claim_id)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return acked


def test_replica_durability_loses_no_acknowledged_claim_when_the_master_dies(tmp_path):
    with master_and_replica(tmp_path) as (master, replica):
        engine = StockEngine(master.client, durability="replica", durability_timeout_ms=1000)
        now = time.time()
        engine.open_pool("sale", 500, 1, now - 1, now + 600)
        acked = rush(engine, "sale", 400)
        master.kill()  # right after the last 201: no AOF, no snapshot on the master
        replica.client.replicaof("NO", "ONE")
        promoted = StockEngine(replica.client)
        known = promoted.known_claims("sale")
        assert len(acked) == 400
        assert set(acked) <= set(known), f"{len(set(acked) - set(known))} acknowledged claims lost"
        assert promoted.stats("sale").claimed == len(acked)


def test_without_an_acknowledging_replica_no_claim_is_reported_as_a_success(tmp_path):
    with master_and_replica(tmp_path) as (master, replica):
        # A loaded machine may take longer than 200 ms to acknowledge while the replica is up:
        # the first claim gets time; the fail-fast claim below keeps the 200 ms.
        patient = StockEngine(master.client, durability="replica", durability_timeout_ms=5000)
        now = time.time()
        patient.open_pool("sale", 10, 1, now - 1, now + 600)
        assert patient.reserve("sale", "m1", 1, "r1").ok
        engine = StockEngine(master.client, durability="replica", durability_timeout_ms=200)
        replica.kill()
        started = time.monotonic()
        with pytest.raises(ClaimNotDurable) as caught:
            engine.reserve("sale", "m2", 1, "r2")
        assert time.monotonic() - started < 1.0  # fails fast: the timeout, not a hang
        assert caught.value.acks == 0 and caught.value.needed == 1
        assert isinstance(caught.value, redis.exceptions.TimeoutError)  # a retryable 503
        local = StockEngine(master.client)  # the claim exists on the master: a retry replays it
        assert local.reserve("sale", "m2", 1, "r2").replayed


def test_fsync_durability_waits_for_the_masters_aof(tmp_path):
    server = Server(tmp_path, aof=True)
    try:
        engine = StockEngine(server.client, durability="fsync", durability_timeout_ms=1000)
        now = time.time()
        engine.open_pool("sale", 50, 1, now - 1, now + 600)
        assert len(rush(engine, "sale", 50, threads=4)) == 50
        # A script not yet loaded on the server is loaded and the call retried.
        server.client.script_flush()
        assert engine.reserve("sale", "late", 1, "late").status == "sold_out"
    finally:
        server.stop()


def test_unknown_durability_is_refused():
    with pytest.raises(ValueError, match="durability"):
        StockEngine(redis.Redis(), durability="paper")


def test_on_a_3_plus_3_cluster_a_killed_master_loses_no_acknowledged_claim(tmp_path):
    from redis.cluster import ClusterNode, RedisCluster

    from loadtests.cluster_parts import replicated_cluster

    with replicated_cluster(tmp_path) as (masters, replicas):
        nodes = [ClusterNode("127.0.0.1", m.port) for m in masters]
        client = RedisCluster(startup_nodes=nodes)
        engine = StockEngine(client, durability="replica", durability_timeout_ms=1000)
        now = time.time()
        pools = [f"sale{i}" for i in range(6)]  # spread over the three shards
        for pool in pools:
            engine.open_pool(pool, 200, 1, now - 1, now + 600, buckets=3)
        acked = {pool: rush(engine, pool, 150, threads=4) for pool in pools}
        victim = next(m for m in masters if m.client.dbsize() > 0)
        heir = replicas[masters.index(victim)]
        victim.kill()
        heir.client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        survivor = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", heir.port)])
        deadline = time.monotonic() + 30
        while b"cluster_state:ok" not in heir.client.execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the replica was not promoted"
            time.sleep(0.1)
        after = StockEngine(survivor)
        lost = 0
        for pool in pools:
            known = after.known_claims(pool)
            lost += len(set(acked[pool]) - set(known))
            assert after.stats(pool).claimed >= len(acked[pool])
        assert sum(map(len, acked.values())) == 900
        assert lost == 0, f"{lost} acknowledged claims lost"
        client.close()
        survivor.close()
