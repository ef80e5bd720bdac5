"""Engine fixtures: every engine test runs on a standalone server and on a 3-master cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from redis.cluster import ClusterNode, RedisCluster

from inventory import StockEngine

NAMESPACE = "t"


@dataclass
class Backend:
    """A flushed client plus what a child process needs to build its own (``workers.connect``)."""

    name: str
    client: object
    spec: tuple

    def engine(self, **kwargs) -> StockEngine:
        return StockEngine(self.client, namespace=NAMESPACE, **kwargs)


@pytest.fixture(scope="session")
def cluster_client(redis_cluster):
    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in redis_cluster.startup_nodes])
    yield client
    client.close()


@pytest.fixture(params=["standalone", pytest.param("cluster", marks=pytest.mark.cluster)])
def backend(request):
    if request.param == "standalone":
        client = request.getfixturevalue("redis_client")  # flushed before and after
        yield Backend("standalone", client, ("url", request.getfixturevalue("redis_server_url")))
        return
    client = request.getfixturevalue("cluster_client")
    client.flushall(target_nodes=RedisCluster.ALL_NODES)
    yield Backend(
        "cluster", client, ("cluster", request.getfixturevalue("redis_cluster").startup_nodes)
    )
    client.flushall(target_nodes=RedisCluster.ALL_NODES)


@pytest.fixture
def engine(backend):
    return backend.engine()
