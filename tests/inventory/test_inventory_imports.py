"""The engine stays framework-free: importing it pulls in neither Flask nor SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
import inventory, inventory.engine, inventory.outbox, inventory.bench
banned = ("flask", "sqlalchemy", "marketplace", "flashsale")
found = sorted(m for m in sys.modules if m.split(".")[0] in banned)
assert not found, found
"""


def test_import_inventory_does_not_import_frameworks():
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
