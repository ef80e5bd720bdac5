"""Outbox entries -> SQL voucher rows, idempotently (an entry may arrive twice).

A redelivered entry (same claim id, code and member as the stored voucher) is a silent no-op. An
entry whose claim id or code is held by a *different* voucher (an id reused after Redis lost data)
is never dropped: it becomes a ``voucher_conflicts`` row for review, an ERROR log line and a tick
of ``shihui_voucher_conflicts_total``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from marketplace.extensions import db

from .models import Campaign, Voucher, VoucherConflict

log = logging.getLogger(__name__)

CONFLICTS = Counter(
    "shihui_voucher_conflicts_total",
    "Outbox claims kept aside because a different voucher holds their claim id or code",
    ["kind"],
)


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def _ms(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _campaign_id(pool_id: str) -> int | None:
    """A sale's pool is named by its campaign id; any other name belongs to no campaign."""
    return int(pool_id) if pool_id.isdigit() else None


def persist_entries(entries) -> dict:
    """Insert claims (ON CONFLICT DO NOTHING, then check) and apply cancellations; commits.

    Returns counts. Unknown campaigns (a pool with no campaign row) are skipped and reported, so
    one stray pool cannot block the drain; the audit names them.
    """
    claims = [e for e in entries if e.fields.get("type") == "claim"]
    cancels = [e for e in entries if e.fields.get("type") == "cancel"]
    ids = {_campaign_id(e.pool_id) for e in claims} - {None}
    # The three columns a voucher takes from its campaign, as plain rows: loading whole ORM
    # objects was a fifth of the low-latency drainer's time per batch (py-spy, issue #13).
    campaigns = {
        c.id: c
        for c in db.session.execute(
            select(Campaign.id, Campaign.valid_from, Campaign.valid_until).where(
                Campaign.id.in_(ids)
            )
        )
    } if ids else {}  # fmt: skip
    rows, skipped = [], 0
    for e in claims:
        f = e.fields
        campaign = campaigns.get(_campaign_id(e.pool_id))
        if campaign is None or "code" not in f:
            skipped += 1
            continue
        rows.append(
            {
                "claim_id": f["claim_id"],
                "code": f["code"],
                "campaign_id": campaign.id,
                "member_id": int(f["member_id"]),
                "request_id": f.get("request_id") or None,
                "status": "issued",
                "claimed_at": _ms(f["ts"]),
                "ts_ms": int(f["ts"]),
                "valid_from": campaign.valid_from,
                "valid_until": campaign.valid_until,
            }
        )
    inserted = conflicts = 0
    if rows and db.session.get_bind().dialect.name == "postgresql":
        inserted, unmatched = _insert_pg(rows)
        conflicts = _keep_conflicts(unmatched) if unmatched else 0
    elif rows:
        # No conflict target: a clash on the claim id *or* the code inserts nothing, and the
        # check below tells a redelivery from a different voucher.
        # RETURNING counts what went in on every database (an executemany's rowcount is -1 or
        # 0 on PostgreSQL); SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues").
        table = Voucher.__table__
        result = db.session.connection().execute(
            _insert(table).on_conflict_do_nothing().returning(table.c.id),
            [{k: v for k, v in r.items() if k != "ts_ms"} for r in rows],
        )
        inserted = len(result.all())
        # Every row went in: none clashed with a stored voucher (or another row of the batch),
        # so there is nothing to check (a drain of 40,000 lottery vouchers: 2-3 s less).
        conflicts = _keep_conflicts(rows) if inserted < len(rows) else 0
    cancelled = 0
    for e in cancels:
        match = [Voucher.claim_id == e.fields["claim_id"], Voucher.status == "issued"]
        if e.fields.get("member_id", "").isdigit():  # never cancel another member's voucher
            match.append(Voucher.member_id == int(e.fields["member_id"]))
        result = db.session.execute(
            update(Voucher)
            .where(*match)
            .values(status="cancelled", cancelled_at=_ms(e.fields["ts"]))
        )
        cancelled += result.rowcount or 0
    db.session.commit()
    return {
        "claims": len(rows), "inserted": inserted, "cancelled": cancelled, "skipped": skipped,
        "conflicts": conflicts,
    }  # fmt: skip


# PostgreSQL: the whole batch as nine arrays in one constant statement (psycopg sends lists as
# arrays; the query text never changes, so it is parsed once) instead of a multi-row VALUES
# statement with 9 parameters per row, whose text psycopg re-parses on every batch. A 500-row
# batch took 111 µs of drainer CPU per row that way, most of it in psycopg's query conversion
# (bench/bench_drain.py).
_PG_INSERT = text("""
    INSERT INTO vouchers (claim_id, code, campaign_id, member_id, request_id, status,
                          claimed_at, persisted_at, valid_from, valid_until)
    SELECT i.claim_id, i.code, i.campaign_id, i.member_id, i.request_id, 'issued',
           TIMESTAMPTZ 'epoch' + i.ts_ms * INTERVAL '1 millisecond', now(),
           c.valid_from, c.valid_until
    FROM unnest(CAST(:claim_ids AS text[]), CAST(:codes AS text[]), CAST(:campaigns AS bigint[]),
                CAST(:members AS bigint[]), CAST(:requests AS text[]), CAST(:ts AS bigint[]))
         AS i(claim_id, code, campaign_id, member_id, request_id, ts_ms)
    JOIN campaigns c ON c.id = i.campaign_id
    ON CONFLICT DO NOTHING
    RETURNING 1
""")
# The rows of the batch that no stored voucher matches exactly (claim id, code and member): the
# suspects for the conflict check. After a clean insert, none.
_PG_UNMATCHED = text("""
    SELECT i.n
    FROM unnest(CAST(:claim_ids AS text[]), CAST(:codes AS text[]), CAST(:members AS bigint[]))
         WITH ORDINALITY AS i(claim_id, code, member_id, n)
    WHERE NOT EXISTS (SELECT 1 FROM vouchers v WHERE v.claim_id = i.claim_id
                      AND v.code = i.code AND v.member_id = i.member_id)
""")


def _insert_pg(rows: list[dict]) -> tuple[int, list[dict]]:
    """Insert ``rows`` (ON CONFLICT DO NOTHING); returns how many went in and the rows that
    match no stored voucher exactly (for :func:`_keep_conflicts`)."""
    params = {
        "claim_ids": [r["claim_id"] for r in rows],
        "codes": [r["code"] for r in rows],
        "campaigns": [r["campaign_id"] for r in rows],
        "members": [r["member_id"] for r in rows],
        "requests": [r["request_id"] for r in rows],
        "ts": [r["ts_ms"] for r in rows],
    }
    conn = db.session.connection()
    inserted = len(conn.execute(_PG_INSERT, params).all())
    if inserted == len(rows):  # every row went in: none matches another voucher
        return inserted, []
    unmatched = conn.execute(
        _PG_UNMATCHED, {k: params[k] for k in ("claim_ids", "codes", "members")}
    ).scalars()
    return inserted, [rows[n - 1] for n in unmatched]


def _keep_conflicts(rows: list[dict]) -> int:
    """Rows whose claim id or code belongs to another stored voucher -> ``voucher_conflicts``.

    Read after the insert, in the same transaction, so a row a concurrent drainer stored counts.
    Returns how many conflicts were new.
    """
    stored = db.session.execute(
        select(Voucher.id, Voucher.claim_id, Voucher.code, Voucher.member_id).where(
            or_(
                Voucher.claim_id.in_({r["claim_id"] for r in rows}),
                Voucher.code.in_({r["code"] for r in rows}),
            )
        )
    ).all()
    by_claim = {v.claim_id: v for v in stored}
    by_code = {v.code: v for v in stored}
    new = 0
    for row in rows:
        same = by_claim.get(row["claim_id"])
        if same is not None and (same.code, same.member_id) == (row["code"], row["member_id"]):
            continue  # stored by this call or an earlier delivery
        other = same or by_code.get(row["code"])
        kind = "claim_id" if same is not None else "code"
        conflict = {
            "campaign_id": row["campaign_id"], "kind": kind, "claim_id": row["claim_id"],
            "code": row["code"], "member_id": row["member_id"], "request_id": row["request_id"],
            "claimed_at": row["claimed_at"], "existing_voucher_id": other.id if other else None,
            "detected_at": datetime.now(UTC),
        }  # fmt: skip
        # RETURNING, not rowcount: psycopg reports a row for an insert that did nothing here.
        stmt = _insert(VoucherConflict.__table__).on_conflict_do_nothing()
        if db.session.connection().execute(stmt.returning(VoucherConflict.id), conflict).first():
            new += 1
            CONFLICTS.labels(kind).inc()
            log.error(
                "voucher conflict (%s): outbox claim %s code %s of member %s clashes with "
                "voucher %s; kept in voucher_conflicts for review",
                kind, row["claim_id"], row["code"], row["member_id"], other.id if other else None,
            )  # fmt: skip
    return new
