"""Request ids, structured logs and Prometheus metrics.

Every request gets an ``X-Request-ID`` (accepted from the client when it is short and plain, else
generated), returned on the response and written in every log line. In production logs are JSON
lines. Metrics use prometheus-client; under gunicorn ``PROMETHEUS_MULTIPROC_DIR`` makes them
multiprocess-safe (``shihui up`` and ``gunicorn_conf`` set it up).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

REQUESTS = Counter("shihui_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "shihui_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CLAIMS = Counter("shihui_claims_total", "Claim attempts by outcome", ["outcome"])
OUTBOX_LAG = Gauge(
    "shihui_outbox_lag_entries", "Outbox entries not yet persisted", multiprocess_mode="max"
)
QUEUE_DEPTH = Gauge(
    "shihui_rq_queue_depth", "Jobs waiting in RQ queues", ["queue"], multiprocess_mode="max"
)


# PostgreSQL puts row values into error text ("DETAIL:  Key (card_no)=(6217...) already exists",
# "Failing row contains (...)"); SQLAlchemy's hide_parameters cannot reach those.
_DB_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)


def redact(text: str) -> str:
    """Log text without the row values a database error may quote."""
    return _DB_DETAIL.sub(r"\1 [row values hidden]", text)


class RedactingFormatter(logging.Formatter):
    # The whole output: another handler may have cached an unredacted record.exc_text.
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id", "-")
            # The fast lane (no request context) puts the client's address on g.
            client = g.get("client", "-")
        except RuntimeError:  # outside a request/app context
            record.request_id = getattr(record, "request_id", "-")
            client = "-"
        # The client's address (after ProxyFix: the real one, not the proxy's).
        record.client = request.remote_addr if has_request_context() else client
        return True


class JsonFormatter(RedactingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", "-"),
            "client": getattr(record, "client", "-"),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    # Replace our own handler on re-creation (tests build many apps) without touching others'.
    for old in [h for h in root.handlers if getattr(h, "_shihui", False)]:
        root.removeHandler(old)
    handler._shihui = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])


# Labelled metric children by label values: ``labels()`` validates and hashes its arguments on
# every call, which the claim path paid twice per request. A few hundred routes x methods x
# statuses at most.
_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple] = {}


def request_metrics(method: str, endpoint: str, status: int) -> tuple:
    """The request counter and latency histogram children of one route and status."""
    key = (method, endpoint, status)
    found = _REQUEST_CHILDREN.get(key)
    if found is None:
        found = _REQUEST_CHILDREN[key] = (
            REQUESTS.labels(method, endpoint, str(status)),
            LATENCY.labels(method, endpoint),
        )
    return found


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start():
        supplied = request.headers.get("X-Request-ID", "")
        # 32 hex digits like a uuid4's, at a third of its cost
        g.request_id = supplied if REQUEST_ID_RE.match(supplied) else os.urandom(16).hex()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        count, latency = request_metrics(request.method, endpoint, response.status_code)
        count.inc()
        latency.observe(elapsed)
        return response


def metrics_response(collectors=()) -> Response:
    """The process (or multiprocess) registry, then ``collectors`` read at scrape time (they
    may query Redis inside the request's app context)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    if collectors:
        scrape = CollectorRegistry(auto_describe=False)
        for collector in collectors:
            scrape.register(collector)
        payload += generate_latest(scrape)
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)
