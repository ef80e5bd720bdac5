"""Bulk creation of activated members (demo data, load tests): Core executemany, one shared hash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, insert, select

from .. import orgs
from ..auth.models import Account
from ..auth.tokens import Principal, publish_versions
from ..extensions import db
from ..models import utcnow
from . import identity
from .models import Card, Member

CHUNK = 5000
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"]


@dataclass(frozen=True)
class BulkSpec:
    card_prefix: str  # cards are <prefix><sequence><Luhn digit>, 16 digits
    id_region: str  # first 6 digits of the generated resident ID numbers
    birth_start: date
    region: str = "130102"
    branch: str = ""
    phone_prefix: str = "139"
    status: str = "active"  # "issued" leaves the card for the holder to activate


def chinese_name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)]


def person(spec: BulkSpec, seq: int) -> dict:
    """The generated details of person ``seq`` (clear ID number included, for demos and tests)."""
    birth = (spec.birth_start + timedelta(days=seq // 1000)).strftime("%Y%m%d")
    return {
        "card_no": identity.make_card_no(spec.card_prefix, seq),
        "name": chinese_name(seq),
        "id_number": identity.make_resident_id(spec.id_region, birth, seq),
        "phone": f"{spec.phone_prefix}{seq % 10**8:08d}",
        "region": spec.region,
        "branch": spec.branch,
    }


def next_sequence(spec: BulkSpec) -> int:
    count = db.session.scalar(
        select(func.count()).select_from(Card).where(Card.card_no.like(spec.card_prefix + "%"))
    )
    return int(count or 0) + 1


def create_members(
    spec: BulkSpec, count: int, password_hash: str | None = None, start: int | None = None
) -> Iterator[Principal]:
    """Create ``count`` people with cards (and, for active cards, member accounts sharing
    ``password_hash``); yields the principals of the accounts, committing every chunk."""
    key = current_app.config["ID_HASH_KEY"].encode()
    start = next_sequence(spec) if start is None else start
    now = utcnow()
    org_id = orgs.ensure_branch(spec.region, spec.branch)
    for chunk_start in range(start, start + count, CHUNK):
        people = [
            person(spec, s) for s in range(chunk_start, min(chunk_start + CHUNK, start + count))
        ]
        member_ids = (
            db.session.execute(
                insert(Member.__table__).returning(
                    Member.__table__.c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "name": p["name"],
                        "id_hash": identity.id_hash(key, p["id_number"]),
                        "id_last4": p["id_number"][-4:],
                        "phone": p["phone"],
                        "branch": p["branch"],
                        "region": p["region"],
                        "org_id": org_id,
                        "created_at": now,
                    }
                    for p in people
                ],
            )
            .scalars()
            .all()
        )
        active = spec.status == "active"
        db.session.execute(
            insert(Card.__table__),
            [
                {
                    "card_no": p["card_no"],
                    "member_id": mid,
                    "status": spec.status,
                    "issued_at": now,
                    "activated_at": now if active else None,
                }
                for p, mid in zip(people, member_ids, strict=True)
            ],
        )
        if not active:
            db.session.commit()
            continue
        account_ids = (
            db.session.execute(
                insert(Account.__table__).returning(
                    Account.__table__.c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "username": p["card_no"],
                        "role": "member",
                        "password_hash": password_hash,
                        "member_id": mid,
                        "is_active": True,
                        "token_version": 0,
                        "created_at": now,
                    }
                    for p, mid in zip(people, member_ids, strict=True)
                ],
            )
            .scalars()
            .all()
        )
        db.session.commit()
        publish_versions((aid, 0) for aid in account_ids)
        for p, mid, aid in zip(people, member_ids, account_ids, strict=True):
            yield Principal(
                account_id=aid,
                role="member",
                member_id=mid,
                region=p["region"],
                card_active=True,
                card_no=p["card_no"],
            )
