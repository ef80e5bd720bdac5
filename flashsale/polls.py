"""What every phone polls: the sale list and one sale, from a per-process micro-cache.

Each web process keeps the serialized body of each (sale) and (list page) for at most
``FLASHSALE_POLL_TTL`` seconds (default 0.5): the remaining stock in it was read from the engine
when the body was built, so it is never more than that old. A hit costs no SQL, no Redis and no
marshmallow: a prebuilt body, a weak ``ETag`` over it, and ``server_time`` spliced in fresh, so
a countdown never starts from a cached clock. ``If-None-Match`` with the current tag answers 304.

``Cache-Control: private, no-cache``: the answers need a member's bearer token, and a shared
cache that stored them could hand them to requests without one (RFC 9111 3.5), so only the
member's own client may keep a copy, and it revalidates every time: a 304 costs about what a
cache hit costs here, and the stock a phone shows stays within the TTL. Every response also
carries ``Server-Time`` (the server's clock, milliseconds, ISO 8601), which a 304 does too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Response, current_app, request

from .settings import setting

CACHE_CONTROL = "private, no-cache"
# Stands in for ``server_time`` in a cached body; replaced by the clock on every response.
NOW = "\u2063server_time\u2063"
_NOW = json.dumps(NOW).encode()
MAX_ENTRIES = 4096  # page arguments come from clients: never let them grow the dict unbounded


@dataclass(frozen=True, slots=True)
class Body:
    expires: float  # time.monotonic()
    parts: tuple[bytes, ...]  # the body split where the current time goes
    etag: str
    headers: dict[str, str]


def _server_time() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _freeze(data, headers: dict[str, str], ttl: float) -> Body:
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    parts = tuple(raw.split(_NOW))
    etag = 'W/"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
    return Body(time.monotonic() + ttl, parts, etag, headers)


def cached_json(key: tuple, build: Callable[[], tuple[object, dict[str, str]]]) -> Response:
    """The answer for ``key``: ``build()`` gives (JSON-able data, headers) on a miss; data may
    hold :data:`NOW` where the server's time belongs."""
    cache = current_app.extensions.setdefault("flashsale.polls", {})
    now = time.monotonic()
    body = cache.get(key)
    if body is None or body.expires <= now:
        data, headers = build()
        body = _freeze(data, headers, float(setting("FLASHSALE_POLL_TTL")))
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = body
    server_time = _server_time()
    if _matches(request.headers.get("If-None-Match"), body.etag):
        response = Response(status=304)
    else:
        stamp = json.dumps(server_time).encode()
        response = Response(stamp.join(body.parts), mimetype="application/json")
        response.headers.update(body.headers)
    response.headers["ETag"] = body.etag
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Server-Time"] = server_time
    return response


def _matches(header: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/"x"`` and ``"x"`` both match our ``W/"x"``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag[2:]
    return any(t.strip().removeprefix("W/") == opaque for t in header.split(","))
