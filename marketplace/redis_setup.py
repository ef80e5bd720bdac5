"""Attach Redis, RQ and (when available) the stock engine to the app.

``REDIS_URL`` may name a standalone server (``redis://``, ``rediss://``, ``unix://``) or a cluster
(``redis+cluster://host:port``). RQ cannot run on a cluster, so with a cluster ``RQ_REDIS_URL``
must name a standalone server.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask
from redis.cluster import RedisCluster

log = logging.getLogger(__name__)


def make_client(url: str, **kwargs):
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url("redis://" + url[len("redis+cluster://") :], **kwargs)
    return redis.Redis.from_url(url, **kwargs)


def init_redis(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if not url:
        return  # accessors raise RedisNotConfigured with a helpful message
    client = make_client(url, health_check_interval=30)
    app.extensions["shihui.redis"] = client
    rq_url = app.config.get("RQ_REDIS_URL")
    if url.startswith("redis+cluster://") and (not rq_url or rq_url.startswith("redis+cluster")):
        raise RuntimeError(
            "RQ needs a standalone Redis: set RQ_REDIS_URL when REDIS_URL is a cluster"
        )
    app.extensions["shihui.rq_redis"] = redis.Redis.from_url(rq_url)
    app.extensions["shihui.queues"] = {}


def eviction_risk(client) -> str | None:
    """Why this Redis could evict keys, or None when it cannot.

    The stock, the claim records and the outbox live only in Redis until they are persisted, so
    a server that evicts under memory pressure would silently drop tickets and vouchers. Redis
    evicts only when ``maxmemory`` is set (non-zero) and ``maxmemory-policy`` is not
    ``noeviction``; with ``maxmemory 0`` (the default on 64-bit builds) it never evicts, so the
    policy does not matter. Read through ``INFO memory``, not ``CONFIG GET``, which managed
    services often disable. On a cluster every primary is asked.
    """
    try:
        if isinstance(client, RedisCluster):
            nodes = client.get_primaries()
            infos = [(n.name, client.info("memory", target_nodes=n)) for n in nodes]
        else:
            infos = [("", client.info("memory"))]
    except redis.ResponseError as exc:  # e.g. an ACL without INFO: unknown is not safe
        return f"cannot read INFO memory to check maxmemory-policy ({exc}); allow INFO"
    for node, info in infos:
        maxmemory = int(info.get("maxmemory") or 0)
        policy = str(info.get("maxmemory_policy") or "noeviction")
        if maxmemory and policy != "noeviction":
            where = f" on {node}" if node else ""
            return (
                f"maxmemory-policy is {policy} with maxmemory {maxmemory} bytes{where}, so Redis "
                "would evict stock and outbox keys; set maxmemory-policy noeviction "
                "(or maxmemory 0)"
            )
    return None


def eviction_risk_at(url: str) -> str | None:
    """:func:`eviction_risk` of the server at ``url``; None when it cannot be reached now (the
    processes wait for it, and ``/readyz`` checks again once it answers)."""
    client = make_client(url, socket_timeout=5)
    try:
        return eviction_risk(client)
    except redis.ConnectionError as exc:
        log.warning("could not check Redis eviction settings at start: %s", exc)
        return None
    finally:
        client.close()
