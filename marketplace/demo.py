"""Demo data for ``shihui up``: feature packages register loaders; each returns lines to print.

Loaders run in order inside one app context against an empty database. ``DEMO_LOGINS`` is what
the banner of ``shihui up`` and the README show.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from sqlalchemy import inspect, text

from .extensions import db

# Dotted paths of loader functions, run in this order.
LOADERS: list[str] = []

# Shown by `shihui up`; the loaders create exactly these accounts.
DEMO_LOGINS: list[str] = []


def database_is_empty() -> bool:
    """True when no table holds a row (ignoring Alembic's version table)."""
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        if db.session.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first():  # noqa: S608
            return False
    return True


def load_demo() -> Iterator[str]:
    for dotted in LOADERS:
        module, _, name = dotted.rpartition(".")
        yield from getattr(importlib.import_module(module), name)()
    db.session.commit()
    if not LOADERS:
        yield "no demo loaders registered"


def demo_logins() -> list[str]:
    return list(DEMO_LOGINS)
