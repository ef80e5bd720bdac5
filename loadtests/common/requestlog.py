"""Every request of a run, one row each, for the report's per-second rates.

Locust's ``*_stats_history.csv`` carries a current rate that reads 0.0 for a rush shorter than its
averaging window, so the report draws requests/s and latency from this log instead: start time
(epoch seconds), request name, response time (ms), and whether it failed. Written to
``requests.csv`` in ``--data-dir`` when the run stops; imported by ``options`` so every scenario
has it.
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path

from locust import events

ROWS: list[tuple[float, str, float, int]] = []
_LOCK = threading.Lock()


@events.request.add_listener
def _record(name, response_time, exception=None, start_time=None, **_kw):
    if start_time is None:
        return
    with _LOCK:
        ROWS.append((start_time, name, response_time or 0.0, 0 if exception is None else 1))


@events.test_stop.add_listener
def _write(environment, **_kw):
    data_dir = getattr(environment.parsed_options, "data_dir", None)
    if not data_dir:
        return
    path = Path(data_dir) / "requests.csv"
    with _LOCK:
        rows = sorted(ROWS)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(("start", "name", "ms", "failed"))
        out.writerows((f"{t:.3f}", name, f"{ms:.1f}", failed) for t, name, ms, failed in rows)
