"""``shihui loadtest members`` benchmark: 100,000 activated members plus tokens, fresh SQLite.

Usage: .venv/bin/python bench/bench_loadtest_members.py [COUNT]
Uses REDIS_URL if set, else starts the bundled Redis for the run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    count = sys.argv[1] if len(sys.argv) > 1 else "100000"
    tmp = Path(tempfile.mkdtemp(prefix="shihui-bench-"))
    server = None
    url = os.environ.get("REDIS_URL")
    if not url:
        from inventory.server import EmbeddedRedis

        server = EmbeddedRedis(tmp / "redis").start()
        url = server.url
    from marketplace.config import rq_url_for
    from marketplace.extensions import db
    from shihui import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "REDIS_URL": url,
            "RQ_REDIS_URL": rq_url_for(url),
            "INSTANCE_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        db.create_all()
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(
        args=["loadtest", "members", "--count", count, "--out", str(tmp / "members.csv")]
    )
    elapsed = time.perf_counter() - started
    print(result.output.strip().splitlines()[-1] if result.output else result)
    print(f"total {elapsed:.1f} s (CSV: {tmp / 'members.csv'})")
    if server:
        server.stop()
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
