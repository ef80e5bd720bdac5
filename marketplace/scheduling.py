"""Periodic jobs the ``shihui scheduler`` process enqueues on RQ (RQ's own cron scheduler).

Each entry is (dotted function path, interval in seconds, queue). Feature packages add their own
entries here; the functions must be idempotent because a late or repeated run is normal.
"""

from __future__ import annotations

PERIODIC_JOBS: list[tuple[str, int, str]] = [
    ("marketplace.jobs.heartbeat", 30, "default"),
    # Rewrites the token revocation feed from SQL if Redis lost it (web processes fall back to
    # per-request version checks meanwhile).
    ("marketplace.auth.revocations.ensure", 30, "high"),
    # Backs up the drainer process: claims reach SQL even if only the worker runs.
    ("flashsale.jobs.drain_outbox", 2, "high"),
    ("flashsale.jobs.audit_due", 60, "low"),
    # Decides group-buys and teams whose own enqueue_at job was lost or late.
    ("marketplace.catalogue.jobs.sweep", 30, "default"),
]

# (name, argv after ``python -m``) of extra long-running processes ``shihui up`` starts.
EXTRA_PROCESSES: list[tuple[str, list[str]]] = [
    # Low-latency outbox drain: a claim is a voucher row well within 2 s.
    ("drainer", ["marketplace", "flashsale", "drain", "--follow"]),
]
