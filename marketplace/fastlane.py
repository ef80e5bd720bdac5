"""The fast lane: the few API routes every phone hits at a sale's opening second, answered in
front of Flask's request machinery, with the same checks, body and headers.

Through Flask every request pays for a request context (and a cookie session opened for it),
the app's before- and after-request hooks, URL routing, flask-smorest's view wrappers and a
``Response`` object: measured on this machine that is most of a claim's web CPU (the Lua call
itself is one round trip). A WSGI middleware in front of Flask answers the common, well-formed
request of a handful of routes itself and hands every other request to Flask unchanged:

- the route is matched by a strict pattern (method and path); anything else goes to Flask;
- a request with a body, a query string where the route takes none, no bearer token, a token
  that does not verify or a role the permission table refuses goes to Flask, which gives the
  canonical answer (401, 403, 415, 422 ...);
- the handler runs in an application context with ``g.principal`` and ``g.request_id`` set, as
  a view would; a :class:`~marketplace.errors.Problem` becomes the same problem+json Flask's
  handler writes, and a store that does not answer the same 503 ``store_unavailable``;
  :class:`Fallback` hands the request to Flask, and so does any other exception on an
  idempotent route (a claim is keyed by its ``Idempotency-Key``, so Flask doing it again
  answers what it would have answered and logs the error where it happens again); on the
  token renewal, which is not idempotent, it is the 500 ``internal_error`` Flask would give;
- a route that takes a body (the renewal) reads a small ``application/json`` object itself
  and puts the bytes back for Flask when it hands the request on;
- the answer carries what the app's after-request hooks add: ``X-Request-ID``, the security
  headers, ``Cache-Control: no-store`` on private paths, and the request counter and latency
  histogram under the route's Flask rule.

``FASTLANE = False`` turns it off. ``tests/flashsale/test_fastlane.py`` sends the same requests
through both lanes and requires the same status, body and headers.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, g
from werkzeug.http import HTTP_STATUS_CODES

from . import permissions
from .auth.tokens import verify_token
from .errors import PROBLEM_MIME, Problem, problem_json, store_unavailable
from .observability import REQUEST_ID_RE, request_metrics
from .resilience import DATABASE_DOWN, REDIS_DOWN, classify
from .security import finish_headers

log = logging.getLogger(__name__)

Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[dict, re.Match], Answer]
JSON_BODY = "fastlane.json"  # where a route with ``body=True`` finds the parsed JSON body
MAX_BODY = 4096  # a larger body goes to Flask


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler: let Flask answer this request."""


@dataclass(frozen=True, slots=True)
class Route:
    pattern: re.Pattern
    rule: str  # the Flask rule of the same route: the metrics label
    action: str | None  # the permission the Flask view requires (None: no bearer token)
    handler: Handler
    query: bool  # whether a query string may reach the handler
    body: bool  # whether it takes a small JSON object as its body
    idempotent: bool  # whether Flask may do it again after an unexpected error here


_STATUS = {code: f"{code} {name.upper()}" for code, name in HTTP_STATUS_CODES.items()}


class FastLane:
    """WSGI middleware; the app keeps it in ``app.extensions['fastlane']``."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.routes: dict[str, list[Route]] = {}
        self.served = 0  # answers given here (a statistic for tests and benchmarks; not locked)

    def add(self, method: str, route: Route) -> None:
        if route.action is not None:
            permissions.action(route.action)  # an unknown action fails at start-up, as for views
        self.routes.setdefault(method, []).append(route)

    def __call__(self, req, start_response):
        routes = self.routes.get(req["REQUEST_METHOD"])
        if routes and self.app.config["FASTLANE"]:
            path = req.get("PATH_INFO", "")
            for route in routes:
                match = route.pattern.match(path)
                if match is not None:
                    answer = self._serve(route, match, req)
                    if answer is not None:
                        start_response(answer[0], answer[1])
                        return [answer[2]]
                    break
        return self.wsgi_app(req, start_response)

    def _serve(self, route: Route, match: re.Match, req: dict):
        if req.get("QUERY_STRING") and not route.query:
            return None
        if route.body:
            if not _read_json(req):
                return None
        elif req.get("CONTENT_LENGTH", "0") not in ("", "0") or req.get("HTTP_TRANSFER_ENCODING"):
            return None
        token = None
        if route.action is not None:
            scheme, _, token = req.get("HTTP_AUTHORIZATION", "").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return None
        started = time.perf_counter()
        supplied = req.get("HTTP_X_REQUEST_ID", "")
        request_id = supplied if REQUEST_ID_RE.match(supplied) else os.urandom(16).hex()
        ctx = self.app.app_context()
        ctx.push()
        try:
            g.request_id = request_id
            g.client = req.get("REMOTE_ADDR", "-")  # for log lines (ProxyFix has corrected it)
            try:
                if token is not None:
                    try:
                        principal = verify_token(token)
                    except Problem:
                        return None  # Flask's own 401
                    if not permissions.allows(principal.role, route.action):
                        return None  # Flask's own 403
                    g.principal = principal
                status, headers, body = route.handler(req, match)
            except Problem as problem:
                status, headers, body = _problem(problem, request_id)
            except Fallback:
                return None
            except (*REDIS_DOWN, *DATABASE_DOWN) as exc:
                store = classify(exc)
                log.warning("%s unavailable on %s: %s", store, route.rule, type(exc).__name__)
                status, headers, body = _problem(store_unavailable(store), request_id)
            except Exception:
                if route.idempotent:  # Flask does it again, and answers and logs what it finds
                    log.warning("fast lane handed %s to Flask", route.rule, exc_info=True)
                    return None
                log.exception("unhandled error on %s %s", req["REQUEST_METHOD"], route.rule)
                status, headers, body = _problem(INTERNAL_ERROR, request_id)
        finally:
            ctx.pop()
        if status != 304:  # as Werkzeug: a 304 carries no entity headers
            headers.append(("Content-Length", str(len(body))))
        headers.append(("X-Request-ID", request_id))
        finish_headers(self.app, headers, req.get("PATH_INFO", ""), req["wsgi.url_scheme"])
        count, latency = request_metrics(req["REQUEST_METHOD"], route.rule, status)
        count.inc()
        latency.observe(time.perf_counter() - started)
        self.served += 1
        return _STATUS[status], headers, body


INTERNAL_ERROR = Problem(
    "Something went wrong on our side; the request id identifies it in our logs.",
    status=500,
    code="internal_error",
    title="Internal server error",
)


def _problem(problem: Problem, request_id: str) -> Answer:
    body = problem_json(problem, request_id).encode()
    return problem.status, [("Content-Type", PROBLEM_MIME), *problem.headers.items()], body


def _read_json(req: dict) -> bool:
    """Read a small ``application/json`` body into ``req[JSON_BODY]`` (a JSON object), and put
    its bytes back for Flask in case the lane hands the request on. False: Flask reads it."""
    if req.get("HTTP_TRANSFER_ENCODING") or req.get("CONTENT_TYPE") != "application/json":
        return False
    length = req.get("CONTENT_LENGTH", "")
    if not length.isdigit() or not 0 < int(length) <= MAX_BODY:
        return False
    raw = req["wsgi.input"].read(int(length))
    req["wsgi.input"] = io.BytesIO(raw)
    try:
        document = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    req[JSON_BODY] = document
    return True


def init_app(app: Flask) -> None:
    app.config.setdefault("FASTLANE", True)  # apps built without load_config (bench, tests)
    lane = FastLane(app, app.wsgi_app)
    app.wsgi_app = lane
    app.extensions["fastlane"] = lane


def route(app: Flask, method: str, pattern: str, *, rule: str, action: str | None,
          query: bool = False, body: bool = False, idempotent: bool = True):  # fmt: skip
    """Register ``handler(req, match) -> (status, headers, body)`` for ``method`` and a path
    matching ``pattern`` (anchored at both ends). ``action=None``: no bearer token (the
    handler checks its own credential)."""

    def decorator(handler: Handler) -> Handler:
        compiled = re.compile(pattern + r"\Z")
        lane = app.extensions["fastlane"]
        lane.add(method, Route(compiled, rule, action, handler, query, body, idempotent))
        return handler

    return decorator


def json_answer(status: int, document) -> Answer:
    return status, [("Content-Type", "application/json")], json.dumps(document).encode()


def header(req: dict, name: str) -> str | None:
    return req.get("HTTP_" + name.upper().replace("-", "_"))
