"""Liveness, readiness and metrics endpoints (outside the versioned API)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from . import heartbeats
from .errors import ServiceUnavailable
from .extensions import db, get_redis
from .observability import metrics_response
from .redis_setup import eviction_risk

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """503 while the database or Redis does not answer; 200 ``degraded`` while they do but the
    outbox drainer is not running (claims still succeed, their rows come later)."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        risk = eviction_risk(get_redis())  # also proves Redis answers
        checks["redis"] = f"unsafe: {risk}" if risk else "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    extra = _drainer(checks) if checks["redis"] == "ok" else {}
    down = [name for name in ("database", "redis") if checks[name] != "ok"]
    if down:
        raise ServiceUnavailable(
            "Not ready: " + "; ".join(f"{name} {checks[name]}" for name in down) + ".",
            code="not_ready",
            down=down,
            checks=checks,
            headers={"Retry-After": "2"},
        )
    degraded = [name for name, state in checks.items() if state != "ok"]
    if degraded:
        return jsonify(status="degraded", degraded=degraded, checks=checks, **extra)
    return jsonify(status="ready", checks=checks, **extra)


def _drainer(checks: dict[str, str]) -> dict:
    """The drainer's heartbeat (refreshed every second, gone 5 s after it stops): its state
    (``ok`` or what it is waiting for) and the outbox lag it last measured."""
    mark = heartbeats.read("drainer")
    if mark is None:
        checks["drainer"] = "down: no heartbeat"
        return {}
    state = mark.get("state", "")
    checks["drainer"] = "ok" if state == "ok" else f"waiting: {state}"
    lag = mark.get("lag")
    return {"outbox_lag": int(lag)} if lag and lag.isdigit() else {}


@bp.get("/metrics")
def metrics():
    update_queue_depth()
    return metrics_response(current_app.extensions.get("metrics.collectors", ()))


def update_queue_depth() -> None:
    """Queue depth is read at scrape time: one LLEN per queue, no background thread needed."""
    from .observability import QUEUE_DEPTH

    try:
        from .extensions import get_rq_redis

        connection = get_rq_redis()
        for name in ("high", "default", "low"):
            QUEUE_DEPTH.labels(name).set(connection.llen(f"rq:queue:{name}"))
    except Exception:  # noqa: S110 - metrics must answer even when Redis does not
        pass
