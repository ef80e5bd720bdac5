"""Test data for the scenarios: tokens prepared by ``shihui loadtest prepare``.

Files live in the run directory (``--data-dir``, default ``loadtest-results/current``):
``tokens.csv`` (card_no,token), ``sale.json`` (campaign id, stock, limit, starts_at),
``clerks.csv`` (username,token) and, after a rush, ``codes.txt`` (one voucher code a line).
"""

from __future__ import annotations

import csv
import itertools
import json
import threading
from pathlib import Path


class TokenPool:
    """Hands each simulated member out once, across all users of one Locust process."""

    def __init__(self, rows: list[tuple[str, str]]):
        self.rows = rows
        self._next = itertools.count()
        self._lock = threading.Lock()

    @classmethod
    def from_csv(cls, path: Path) -> TokenPool:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [(r[0], r[1]) for r in reader if len(r) >= 2]
        if header and len(header) >= 2 and header[1] != "token":  # no header: the row is data
            rows.insert(0, (header[0], header[1]))
        return cls(rows)

    def take(self) -> tuple[str, str] | None:
        with self._lock:
            index = next(self._next)
        return self.rows[index] if index < len(self.rows) else None

    def cycle(self, index: int) -> tuple[str, str]:
        return self.rows[index % len(self.rows)]


def read_sale(data_dir: Path) -> dict:
    return json.loads((data_dir / "sale.json").read_text(encoding="utf-8"))


def read_codes(data_dir: Path) -> list[str]:
    path = data_dir / "codes.txt"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
