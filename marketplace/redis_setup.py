"""Attach Redis, RQ and (when available) the stock engine to the app.

``REDIS_URL`` may name a standalone server (``redis://``, ``rediss://``, ``unix://``) or a cluster
(``redis+cluster://host:port``). RQ cannot run on a cluster, so with a cluster ``RQ_REDIS_URL``
must name a standalone server.
"""

from __future__ import annotations

import redis
from flask import Flask
from redis.cluster import RedisCluster


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
