"""Outbox entries -> SQL voucher rows, idempotently (an entry may arrive twice)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marketplace.extensions import db

from .models import Campaign, Voucher


def _insert():
    dialect = db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(Voucher.__table__)


def _ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def persist_entries(entries) -> dict:
    """Insert claims (ON CONFLICT (claim_id) DO NOTHING) and apply cancellations; commits.

    Returns counts. Unknown campaigns (a pool with no campaign row) are skipped and reported, so
    one stray pool cannot block the drain; the audit names them.
    """
    claims = [e for e in entries if e.fields.get("type") == "claim"]
    cancels = [e for e in entries if e.fields.get("type") == "cancel"]
    ids = {int(e.pool_id) for e in claims if e.pool_id.isdigit()}
    campaigns = {
        c.id: c for c in db.session.scalars(select(Campaign).where(Campaign.id.in_(ids)))
    } if ids else {}  # fmt: skip
    rows, skipped = [], 0
    for e in claims:
        f = e.fields
        campaign = campaigns.get(int(e.pool_id)) if e.pool_id.isdigit() else None
        if campaign is None or "code" not in f:
            skipped += 1
            continue
        rows.append(
            {
                "claim_id": f["claim_id"],
                "code": f["code"],
                "campaign_id": campaign.id,
                "member_id": int(f["member_id"]),
                "status": "issued",
                "claimed_at": _ms(f["ts"]),
                "valid_from": campaign.valid_from,
                "valid_until": campaign.valid_until,
            }
        )
    inserted = 0
    if rows:
        stmt = _insert().on_conflict_do_nothing(index_elements=["claim_id"])
        result = db.session.connection().execute(stmt, rows)
        inserted = max(result.rowcount or 0, 0)  # executemany may report -1
    cancelled = 0
    for e in cancels:
        result = db.session.execute(
            update(Voucher)
            .where(Voucher.claim_id == e.fields["claim_id"], Voucher.status == "issued")
            .values(status="cancelled", cancelled_at=_ms(e.fields["ts"]))
        )
        cancelled += result.rowcount or 0
    db.session.commit()
    return {"claims": len(rows), "inserted": inserted, "cancelled": cancelled, "skipped": skipped}
