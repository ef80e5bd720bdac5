"""Roster import benchmark: 100,000 generated rows (a few bad ones) into a fresh SQLite file.

Usage: .venv/bin/python bench/bench_import.py [ROWS] [DATABASE_URL]
Prints rows/s and total seconds; docs/members.md records the figure.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def make_roster(rows: int) -> bytes:
    from marketplace.members.bulk import BulkSpec, person

    spec = BulkSpec(
        card_prefix="620000",
        id_region="130105",
        birth_start=date(1960, 1, 1),
        branch="新华区总工会",
        phone_prefix="135",
    )
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["card_no", "name", "id_number", "phone", "branch", "region"])
    for n in range(1, rows + 1):
        p = person(spec, n)
        if n % 10_000 == 0:
            p["id_number"] = p["id_number"][:17] + ("0" if p["id_number"][17] != "0" else "1")
        if n % 25_000 == 0:
            p["region"] = "999999"
        w.writerow([p[c] for c in ("card_no", "name", "id_number", "phone", "branch", "region")])
    return out.getvalue().encode("utf-8")


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="shihui-bench-"))
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{tmp / 'bench.db'}"

    from marketplace.extensions import db
    from marketplace.members import importer
    from shihui import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_DIR": str(tmp), "LOG_LEVEL": "WARNING"}
    )
    with app.app_context():
        db.create_all()
        data = make_roster(rows)
        started = time.perf_counter()
        imp = importer.new_import("bench.csv", data)
        importer.run_import(imp, data)
        elapsed = time.perf_counter() - started
        print(
            f"{rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
            f"(created {imp.created:,}, rejected {imp.rejected}) on {db.engine.dialect.name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
