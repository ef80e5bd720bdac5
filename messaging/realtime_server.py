"""The real-time process: Server-Sent Events for open pages
(``python -m messaging.realtime_server``, started by ``shihui up`` as ``realtime``).

One gevent process holds every open page's connection as a greenlet (a few KB each, no thread);
one greenlet reads Redis pub/sub (``PSUBSCRIBE <namespace>:rt:*``) and puts each event on the
queues of the connections subscribed to its channel. The process imports no Flask app and no
database: a connection proves its channels with a token the web app signed
(:func:`messaging.realtime.token_for`).

``GET /events?t=<token>`` streams ``text/event-stream``: ``event: ready`` first, then one
``data: {...}`` per event, a comment every ``HEARTBEAT`` seconds (proxies keep the connection,
dead clients are noticed). When the Redis connection drops, the reader reconnects with backoff and
sends every connection ``event: resync`` (events published meanwhile are lost: the pages fetch
their state again). ``GET /healthz`` answers the connection count and whether Redis is subscribed.

Settings (environment, read in :func:`main`): ``REALTIME_BIND`` (``127.0.0.1:5001``),
``REALTIME_REDIS_URL`` (default ``RQ_REDIS_URL``), ``SECRET_KEY``, ``REDIS_NAMESPACE``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from urllib.parse import parse_qs

log = logging.getLogger("shihui.realtime")

HEARTBEAT = 15.0
QUEUE_SIZE = 64
MAX_CHANNELS = 16  # a member: own channel, everyone, region, each node on the org path
READY = b"retry: 2000\nevent: ready\ndata: {}\n\n"
RESYNC = b"event: resync\ndata: {}\n\n"
PING = b": ping\n\n"
SALT = "shihui.realtime"
TOKEN_MAX_AGE = 24 * 3600


def channel_prefix(namespace: str) -> str:
    return f"{namespace}:rt:"


def serializer(secret: str):
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret, salt=SALT)


class Hub:
    """Channel -> the queues of the connections that listen to it."""

    def __init__(self):
        self.subs: dict[str, set] = defaultdict(set)
        self.connections = 0
        self.subscribed = False
        self.delivered = 0

    def add(self, channels: list[str], queue) -> None:
        self.connections += 1
        for ch in channels:
            self.subs[ch].add(queue)

    def remove(self, channels: list[str], queue) -> None:
        self.connections -= 1
        for ch in channels:
            queues = self.subs.get(ch)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self.subs[ch]

    def dispatch(self, channel: str, frame: bytes) -> None:
        for queue in list(self.subs.get(channel, ())):
            self._put(queue, frame)

    def broadcast(self, frame: bytes) -> None:
        seen = set()
        for queues in list(self.subs.values()):
            for queue in list(queues):
                if id(queue) not in seen:
                    seen.add(id(queue))
                    self._put(queue, frame)

    def _put(self, queue, frame: bytes) -> None:
        from gevent.queue import Full

        try:
            queue.put_nowait(frame)
            self.delivered += 1
        except Full:  # a client that reads nothing: it will be told to resync instead
            queue.queue.clear()
            queue.put_nowait(RESYNC)


def listen(hub: Hub, url: str, prefix: str) -> None:
    """Forward pub/sub messages to the hub forever, reconnecting with backoff."""
    import gevent
    import redis

    delay, lost = 0.5, False
    while True:
        try:
            client = redis.Redis.from_url(url, health_check_interval=10, socket_keepalive=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.psubscribe(prefix + "*")
            hub.subscribed, delay = True, 0.5
            if lost:
                log.warning("pub/sub back: %d connections told to resync", hub.connections)
                hub.broadcast(RESYNC)
                lost = False
            for message in pubsub.listen():
                if message["type"] != "pmessage":
                    continue
                channel = message["channel"].decode()[len(prefix) :]
                hub.dispatch(channel, b"data: " + message["data"] + b"\n\n")
        except Exception as exc:  # noqa: BLE001 - any failure: reconnect, never die
            hub.subscribed, lost = False, True
            log.warning("pub/sub lost (%s); again in %.1f s", exc, delay)
            gevent.sleep(delay)
            delay = min(delay * 2, 5.0)


def make_app(hub: Hub, secret: str, max_age: int):
    """The WSGI callable: ``/events`` and ``/healthz``."""
    from gevent.queue import Empty, Queue
    from itsdangerous import BadData

    signer = serializer(secret)
    cors = [("Access-Control-Allow-Origin", "*"), ("Cache-Control", "no-store")]

    def refuse(start_response, status: str, code: str):
        start_response(status, [("Content-Type", "application/problem+json"), *cors])
        return [json.dumps({"status": int(status[:3]), "code": code}).encode()]

    def app(req, start_response):
        path = req.get("PATH_INFO", "")
        if path == "/healthz":
            body = {"connections": hub.connections, "subscribed": hub.subscribed,
                    "delivered": hub.delivered}  # fmt: skip
            start_response("200 OK", [("Content-Type", "application/json"), *cors])
            return [json.dumps(body).encode()]
        if path != "/events":
            return refuse(start_response, "404 Not Found", "not_found")
        token = parse_qs(req.get("QUERY_STRING", "")).get("t", [""])[0]
        try:
            channels = signer.loads(token, max_age=max_age)
        except BadData:
            return refuse(start_response, "401 Unauthorized", "bad_token")
        if not isinstance(channels, list) or not 0 < len(channels) <= MAX_CHANNELS:
            return refuse(start_response, "401 Unauthorized", "bad_token")
        queue = Queue(QUEUE_SIZE)
        hub.add(channels, queue)
        start_response("200 OK", [("Content-Type", "text/event-stream"),
                                  ("X-Accel-Buffering", "no"), *cors])  # fmt: skip

        def stream():
            try:
                yield READY
                while True:
                    try:
                        yield queue.get(timeout=HEARTBEAT)
                    except Empty:
                        yield PING
            finally:
                hub.remove(channels, queue)

        return stream()

    return app


def serve(bind: str, redis_url: str, secret: str, namespace: str, max_age: int) -> None:
    import gevent
    from gevent.pywsgi import WSGIServer

    hub = Hub()
    gevent.spawn(listen, hub, redis_url, channel_prefix(namespace))
    host, _, port = bind.rpartition(":")
    server = WSGIServer((host or "127.0.0.1", int(port)), make_app(hub, secret, max_age),
                        log=None, error_log=log, backlog=4096)  # fmt: skip
    log.warning("real-time events on http://%s/events", bind)
    server.serve_forever()


def main() -> None:
    import os
    import signal

    import gevent

    from marketplace.config import load_config

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(message)s")
    config = load_config()
    url = os.environ.get("REALTIME_REDIS_URL") or config["RQ_REDIS_URL"]
    if not url:
        raise SystemExit("realtime: set REDIS_URL (or REALTIME_REDIS_URL)")
    gevent.signal_handler(signal.SIGTERM, lambda: os._exit(0))
    serve(os.environ.get("REALTIME_BIND", "127.0.0.1:5001"), url, config["SECRET_KEY"],
          config["REDIS_NAMESPACE"], TOKEN_MAX_AGE)  # fmt: skip


if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()
    main()
