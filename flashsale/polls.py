"""What every phone polls: the sale list and one sale, from a per-process micro-cache.

Each web process keeps the serialized body of each sale and list page (by path and query
string) for at most
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
from functools import wraps

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
    headers: tuple[tuple[str, str], ...]  # of a 200, Server-Time aside
    not_modified: tuple[tuple[str, str], ...]  # of a 304


_second: list = [None, ""]  # the last whole second formatted, reused within that second


def _server_time() -> str:
    """Now, UTC, ISO 8601 with milliseconds (formatting a datetime costs more than the rest)."""
    now = time.time()
    second = int(now)
    if _second[0] != second:
        _second[:] = [second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second[1]}.{int((now - second) * 1000):03d}+00:00"


def _freeze(data, headers: dict[str, str], ttl: float) -> Body:
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    parts = tuple(raw.split(_NOW))
    etag = 'W/"' + hashlib.blake2b(raw, digest_size=12).hexdigest() + '"'
    common = (("ETag", etag), ("Cache-Control", CACHE_CONTROL))
    full = (("Content-Type", "application/json"), *headers.items(), *common)
    return Body(time.monotonic() + ttl, parts, etag, full, common)


def _key() -> tuple[str, bytes]:
    return request.path, request.query_string


def _cache() -> dict:
    return current_app.extensions.setdefault("flashsale.polls", {})


def from_cache(view):
    """Answer a hit before flask-smorest parses arguments or dumps: place it right under
    ``auth_required`` (authorization still runs first) and above ``bp.arguments``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        body = fresh(*_key())
        if body is not None:
            return _respond(body)
        return view(*args, **kwargs)

    return wrapper


def cached_json(build: Callable[[], tuple[object, dict[str, str]]]) -> Response:
    """The answer for this path and query: ``build()`` gives (JSON-able data, headers) on a
    miss; data may hold :data:`NOW` where the server's time belongs."""
    cache, key = _cache(), _key()
    body = cache.get(key)
    if body is None or body.expires <= time.monotonic():
        data, headers = build()
        body = _freeze(data, headers, float(setting("FLASHSALE_POLL_TTL")))
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = body
    return _respond(body)


def _respond(body: Body) -> Response:
    status, headers, content = answer(body, request.headers.get("If-None-Match"))
    return Response(content if status == 200 else None, status=status, headers=headers)


def answer(body: Body, if_none_match: str | None) -> tuple[int, list, bytes]:
    """Status, headers and bytes of the answer from ``body`` (a 304 has no body)."""
    now = _server_time()
    if _matches(if_none_match, body.etag):
        return 304, [*body.not_modified, ("Server-Time", now)], b""
    content = b'"%s"' % now.encode() if len(body.parts) > 1 else b""
    return 200, [*body.headers, ("Server-Time", now)], content.join(body.parts)


def fresh(path: str, query_string: bytes) -> Body | None:
    """The cached body of ``path`` and query, unless missing or expired (the fast lane's hit;
    a miss goes through the view, which builds it)."""
    body = _cache().get((path, query_string))
    if body is not None and body.expires > time.monotonic():
        return body
    return None


def _matches(header: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2): ``W/"x"`` and ``"x"`` both match our ``W/"x"``."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    opaque = etag[2:]
    return any(t.strip().removeprefix("W/") == opaque for t in header.split(","))
