"""Claim outcomes counted separately from failures: ``sold_out`` and ``limit_reached`` are the
expected answers of a sale that is over or a member who already has a ticket."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

EXPECTED_REFUSALS = {"sold_out", "limit_reached", "not_started", "rate_limited"}


class Outcomes:
    def __init__(self):
        self.counts: Counter[str] = Counter()
        self.codes: list[str] = []
        self.timeline: list[tuple[float, str]] = []
        self.members = 0
        self._lock = threading.Lock()

    def member_started(self) -> None:
        with self._lock:
            self.members += 1

    def add(self, outcome: str, at: float, code: str | None = None) -> None:
        with self._lock:
            self.counts[outcome] += 1
            self.timeline.append((at, outcome))
            if code:
                self.codes.append(code)

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            (directory / "outcomes.json").write_text(
                json.dumps(
                    {
                        "counts": dict(self.counts),
                        "members": self.members,
                        "timeline": self.timeline,
                    }  # fmt: skip
                )
            )
            (directory / "codes.txt").write_text("".join(f"{c}\n" for c in self.codes))
