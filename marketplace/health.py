"""Liveness, readiness and metrics endpoints (outside the versioned API)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

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
    down = [name for name, state in checks.items() if state != "ok"]
    if down:
        raise ServiceUnavailable(
            "Not ready: " + "; ".join(f"{name} {checks[name]}" for name in down) + ".",
            code="not_ready",
            down=down,
            checks=checks,
        )
    return jsonify(status="ready", checks=checks)


@bp.get("/metrics")
def metrics():
    update_queue_depth()
    return metrics_response()


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
