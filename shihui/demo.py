"""Demo data for ``shihui up``: feature packages register loaders; each returns lines to print.

Loaders run in order inside one app context against an empty database. ``DEMO_LOGINS`` is what
the banner of ``shihui up`` and the README show.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import inspect, text

from marketplace.config import is_production
from marketplace.extensions import db

# Dotted paths of loader functions, run in this order.
LOADERS: list[str] = [
    "marketplace.members.demo.load_members",
    "flashsale.demo.load_flashsale",
    "catalogue.demo.load_catalogue",
    "messaging.demo.load_messages",
    "unionservices.demo.load_services",
]

# Shown by `shihui up`; the loaders create exactly these accounts.
DEMO_LOGINS: list[str] = [
    "admin: admin / admin12345 (union admin: rosters, cards)",
    "member: card 6222000000000017 / demo12345 (1,000 members: cards 6222000000000017, "
    "6222000000000025, 6222000000000033 … 6222000000010008, each with demo12345)",
    "to activate: card 6222010000000016, 李伟, ID 130104198506010019, phone 13700000001",
    "merchant owners: owner_cinema / owner_theatre / owner_carwash, clerk: clerk_cinema "
    "(password merchant12345); live flash sales at /m/sales",
    "catalogue: owner_hotpot / owner_zhengding / owner_books (merchant12345); members browse "
    "/m/ (home), /m/directory, /m/groupbuys; vouchers in /m/wallet",
    "union side: card 6222000000000017 has an announcement and a reply in /m/messages, an aid "
    "application, a cover incident and a course seat in /m/services; admin sees them at "
    "/admin/services, /admin/announcements and /admin/conversations",
]


def database_is_empty() -> bool:
    """True when no table holds a row (ignoring Alembic's version table)."""
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        if db.session.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first():  # noqa: S608
            return False
    return True


class DemoRefused(RuntimeError):
    """Demo data (known passwords, a published ID number) in a production database."""


def load_demo() -> Iterator[str]:
    if current_app.config.get("PRODUCTION"):
        raise DemoRefused("SHIHUI_ENV=production: demo data is never loaded")
    for dotted in LOADERS:
        module, _, name = dotted.rpartition(".")
        yield from getattr(importlib.import_module(module), name)()
    db.session.commit()
    if not LOADERS:
        yield "no demo loaders registered"


def demo_logins() -> list[str]:
    """What the banner shows; nothing in production, where the demo accounts never exist."""
    return [] if is_production() else list(DEMO_LOGINS)
