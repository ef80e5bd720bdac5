"""Periodic jobs the ``shihui scheduler`` process enqueues on RQ (RQ's own cron scheduler).

Each entry is (dotted function path, interval in seconds, queue). Feature packages add their own
entries here; the functions must be idempotent because a late or repeated run is normal.
"""

from __future__ import annotations

PERIODIC_JOBS: list[tuple[str, int, str]] = [
    ("marketplace.jobs.heartbeat", 30, "default"),
]

# (name, argv after ``python -m``) of extra long-running processes ``shihui up`` starts.
EXTRA_PROCESSES: list[tuple[str, list[str]]] = []
