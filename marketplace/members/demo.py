"""Demo members: 1,000 activated card holders, 10 cards waiting for activation, one admin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ..auth.passwords import hash_password
from ..auth.services import create_account
from .bulk import BulkSpec, create_members, person

DEMO_PASSWORD = "demo12345"  # noqa: S105 - documented demo credential
ADMIN_PASSWORD = "admin12345"  # noqa: S105
ACTIVE = BulkSpec(
    card_prefix="622200",
    id_region="130102",
    birth_start=date(1980, 1, 1),
    branch="石家庄市总工会机关",
    phone_prefix="138",
)
# Cards issued but not yet activated, to try /m/activate with the details printed by the loader.
WAITING = BulkSpec(
    card_prefix="622201",
    id_region="130104",
    birth_start=date(1985, 6, 1),
    region="130104",
    branch="桥西区总工会",
    phone_prefix="137",
    status="issued",
)


def load_members(count: int = 1000) -> Iterator[str]:
    shared = hash_password(DEMO_PASSWORD)
    created = sum(1 for _ in create_members(ACTIVE, count, shared, start=1))
    list(create_members(WAITING, 10, start=1))
    create_account("admin", ADMIN_PASSWORD, "admin")
    first, last = person(ACTIVE, 1)["card_no"], person(ACTIVE, count)["card_no"]
    yield f"members: {created} activated members, cards {first} … {last}, password {DEMO_PASSWORD}"
    w = person(WAITING, 1)
    yield (
        f"members: 10 cards to activate, e.g. card {w['card_no']}, name {w['name']}, "
        f"ID {w['id_number']}, phone {w['phone']}"
    )
    yield f"admin: admin / {ADMIN_PASSWORD}"
