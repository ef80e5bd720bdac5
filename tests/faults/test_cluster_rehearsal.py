"""The loopback cluster rehearsal, reduced (issue #15): nginx from deploy/ in front of 3 web
nodes, a Redis Cluster of 3 masters + 3 replicas with CLAIM_DURABILITY=replica, a standalone RQ
Redis, a PostgreSQL database it creates and drops, 2 workers and a scheduler; a short Locust sale
with four faults (kill -9 of a web node, a worker, a cluster master; every PostgreSQL connection
terminated). The audit must pass: no oversell, every 201 a voucher row, engine == outbox == SQL.

Needs nginx (``apt-get install -y nginx``) and PostgreSQL (``TEST_DATABASE_URL``); skips with a
message otherwise (``SHIHUI_REQUIRE=nginx,postgres`` makes that a failure, as in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.fault, pytest.mark.slow]


def test_reduced_cluster_rehearsal_passes_its_audit_through_four_faults(tmp_path):
    if not os.path.exists("/usr/sbin/nginx"):
        skip_or_fail("nginx", "nginx is not installed: apt-get install -y nginx")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        skip_or_fail(
            "postgres", "the rehearsal creates a PostgreSQL database: set TEST_DATABASE_URL"
        )
    server = url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    run = subprocess.run(
        [sys.executable, "-m", "loadtests.cluster", "--pg", server, "--members", "2000",
         "--stock", "1200", "--users", "40", "--run-time", "30", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (run_dir,) = [p for p in Path(tmp_path).iterdir() if p.name.startswith("cluster-")]
    faults = json.loads((run_dir / "faults.json").read_text())
    assert [f["kind"] for f in faults] == ["web", "worker", "master", "pg"]
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<h2>Faults</h2>" in page
    assert all(f"fault: {kind}" in page for kind in ("web", "worker", "master", "pg"))  # dots
    print("\n" + "\n".join(f"{f['what']}: peak {f['failures_per_s_peak']:.1f} failures/s, "
                           f"p99 {f['p99_ms_worst']} ms" for f in faults))  # fmt: skip
