"""The engine stays framework-free: it imports (bench and server launcher included) with Flask,
SQLAlchemy, marshmallow and RQ unavailable, and pulls in no package of the layers above."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
# As if the frameworks were not installed: importing any of them raises ImportError.
for name in ("flask", "flask_sqlalchemy", "sqlalchemy", "marshmallow", "rq"):
    sys.modules[name] = None
import inventory, inventory.engine, inventory.outbox, inventory.bench, inventory.server
banned = ("flask", "sqlalchemy", "shihui", "marketplace", "catalogue", "flashsale",
          "merchant_portal")
found = sorted(m for m, mod in sys.modules.items() if mod and m.split(".")[0] in banned)
assert not found, found
"""


def test_import_inventory_does_not_import_frameworks():
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
