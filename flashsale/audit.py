"""Audit a sale: the engine's counters vs its claim records vs SQL vouchers (and what the outbox
has not persisted yet).

The reference is the engine's own state: every claim it decided has a record (``c:<id>``) in the
pool hash, written by the same script that moves the counters. The outbox is trimmed once its
entries are acknowledged, and acknowledged means persisted, so what is left of it is exactly what
SQL may still lack: the audit re-persists claims missing from SQL from those entries and finishes
cancellations that SQL recorded but the engine did not see (a crash between the two writes); it
never invents a voucher. It names every divergence (counters vs records, missing in SQL, extra in
SQL, SQL claims unknown to the engine, code or member mismatch, a member over the limit or
answered twice for one key, oversell, recorded conflicts); any problem fails the audit. A retired
sale (its pool deleted after a passed audit) is checked from SQL alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import exists, or_, select

from inventory import COMMITTED, HELD, ClaimNotFound, OutboxEntry, PoolNotFound
from inventory.keys import claim_number
from marketplace.extensions import db
from marketplace.models import utcnow

from .hotpath import get_engine
from .models import Campaign, CampaignAudit, Voucher, VoucherConflict
from .persist import persist_entries


@dataclass
class AuditResult:
    campaign_id: int
    total_stock: int
    engine_claimed: int | None = None
    outbox_claims: int | None = None
    sql_vouchers: int = 0
    repersisted: int = 0
    recancelled: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


OUTBOX_PAGE = 5000  # entries per XRANGE while the audit reads a stream


def _outbox(engine, pool_id: str) -> tuple[dict[str, OutboxEntry], set[str], set[str]]:
    """Claim records by id, ids given back (cancel/release/expire) and ids restored from SQL."""
    claims, cancels, restored = {}, set(), set()
    for bucket, key in enumerate(engine.outbox_streams(pool_id)):
        start = "-"
        while True:
            batch = engine.client.xrange(key, min=start, max="+", count=OUTBOX_PAGE)
            if not batch:
                break
            for entry_id, data in batch:
                f = {k.decode(): v.decode() for k, v in data.items()}
                kind = f.get("type")
                if kind == "claim":
                    claims[f["claim_id"]] = OutboxEntry(pool_id, bucket, entry_id.decode(), f)
                elif kind in ("cancel", "release", "expire"):
                    cancels.add(f["claim_id"])
                elif kind == "restore" and f.get("state") in ("c", "h"):
                    restored.add(f["claim_id"])
            start = "(" + batch[-1][0].decode()  # exclusive: the next page starts after it
    return claims, cancels, restored


def _sql(campaign_id: int) -> dict[str, tuple[str, int, str]]:
    rows = db.session.execute(
        select(Voucher.claim_id, Voucher.status, Voucher.member_id, Voucher.code).where(
            Voucher.campaign_id == campaign_id
        )
    )
    return {r.claim_id: (r.status, r.member_id, r.code) for r in rows}


def _names(items, limit: int = 10) -> str:
    items = sorted(str(i) for i in items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def run_audit(campaign_id: int, store: bool = True) -> AuditResult:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    result = AuditResult(campaign_id, campaign.total_stock)
    if campaign.status == "draft":
        result.problems.append("the campaign is a draft: nothing to audit")
        return _store(campaign, result, store)
    engine, pool = get_engine(), campaign.pool_id
    claims, cancels, restored, stats = {}, set(), set(), None
    if campaign.retired_at is None:
        try:
            stats = engine.stats(pool)
            result.engine_claimed = stats.claimed
            claims, cancels, restored = _outbox(engine, pool)
        except PoolNotFound:
            result.problems.append("the engine has no pool for this sale (Redis lost it?)")
    known = engine.known_claims(pool) if stats is not None else {}
    # Claims the engine still counts: its live records, plus what the untrimmed outbox says.
    counted = {c for c, rec in known.items() if rec[0] in (HELD, COMMITTED)}
    counted |= (set(claims) | restored) - cancels

    # Repairs: only from claims the engine decided (outbox entries, claim records), never invented.
    sql = _sql(campaign_id)
    missing = [claims[c] for c in claims if c not in sql]
    # Acknowledged entries are trimmed; a voucher SQL lost since (a restore from an older backup)
    # comes back from the engine's own claim record, which carries the member, key and code.
    missing += [
        _record_entry(engine, pool, c, known[c])
        for c in sorted(counted - set(claims) - set(sql))
        if c in known and "code" in known[c][3]
    ]
    # A cancel is stale when SQL still has the voucher issued, or will have it: a claim written
    # back just now (both records missed by the drainer) must not come back to life.
    stale_cancels = [c for c in cancels if (sql[c][0] == "issued" if c in sql else c in claims)]
    if missing or stale_cancels:
        fixes = missing + [_cancel_entry(pool, c) for c in stale_cancels]
        persist_entries(fixes)
        sql = _sql(campaign_id)
        result.repersisted = sum(1 for e in missing if e.fields["claim_id"] in sql)
    for claim_id, (status, _member, _code) in sql.items():
        if status == "cancelled" and claim_id in counted:
            try:
                if engine.cancel(pool, claim_id).changed:
                    result.recancelled += 1
            except (ClaimNotFound, PoolNotFound):
                pass
    if stats is not None and result.recancelled:
        result.engine_claimed = engine.stats(pool).claimed
        known = engine.known_claims(pool)

    live_sql = {c for c, (s, _m, _k) in sql.items() if s != "cancelled"}
    result.sql_vouchers = len(live_sql)
    # The decisions the engine still counts: its live claim records (the outbox is trimmed).
    live_records = {c for c, rec in known.items() if rec[0] in (HELD, COMMITTED)}
    result.outbox_claims = len(live_records) if stats is not None else None
    _compare(result, campaign, stats, known, claims, live_records, sql, live_sql)
    return _store(campaign, result, store)


def _compare(result, campaign, stats, known, claims, live_records, sql, live_sql) -> None:
    """Name every kind of divergence between the engine's counters, its records and SQL."""
    problems = result.problems
    total = stats.total if stats is not None else campaign.total_stock
    for name, count in (
        ("engine", result.engine_claimed), ("claim records", result.outbox_claims),
        ("SQL", len(live_sql)),
    ):  # fmt: skip
        if count is not None and count > total:
            problems.append(f"oversell: {name} counts {count} tickets of {total}")
    if result.engine_claimed is not None and result.engine_claimed != len(live_records):
        problems.append(
            f"mismatch: engine counts {result.engine_claimed} claims, its claim records "
            f"{len(live_records)}"
        )
    live_engine = live_records
    lacking = live_engine - set(sql)
    if lacking:
        problems.append(
            f"missing in SQL: {len(lacking)} engine claims have no voucher and no outbox record "
            f"to restore them from (members {_names({known[c][1] for c in lacking})})"
        )
    unknown = live_sql - set(known)
    if unknown and stats is not None:
        problems.append(
            f"mismatch: {len(unknown)} SQL vouchers unknown to the engine ({_names(unknown)}); "
            "`shihui flashsale rebuild` restores them"
        )
    extra = (live_sql & set(known)) - live_engine
    if extra:
        problems.append(f"extra in SQL: {len(extra)} live vouchers the engine gave back "
                        f"({_names(extra)})")  # fmt: skip
    codes = {c for c in set(sql) & set(known) if known[c][3].get("code", sql[c][2]) != sql[c][2]}
    codes |= {c for c in set(sql) & set(claims) if claims[c].fields.get("code") != sql[c][2]}
    if codes:
        problems.append(f"code mismatch: {len(codes)} vouchers differ from the engine's code "
                        f"({_names(codes)})")  # fmt: skip
    members = {c for c in set(sql) & set(known) if known[c][1] != str(sql[c][1])}
    if members:
        problems.append(f"member mismatch: {len(members)} vouchers belong to another member in "
                        f"the engine ({_names(members)})")  # fmt: skip
    per_request = Counter((rec[1], rec[2]) for rec in known.values() if rec[2])
    twice = {m for (m, _r), n in per_request.items() if n > 1}
    if twice:
        problems.append(f"{len(twice)} members got two claims for one Idempotency-Key "
                        f"(a claim lost in a Redis restart): {_names(twice)}")  # fmt: skip
    per_member = Counter(m for c, (s, m, _k) in sql.items() if s != "cancelled")
    over = {m: n for m, n in per_member.items() if n > campaign.per_member_limit}
    if over:
        problems.append(f"{len(over)} members hold more than the limit: {sorted(over)[:10]}")
    conflicts = db.session.scalars(
        select(VoucherConflict.claim_id).where(VoucherConflict.campaign_id == campaign.id)
    ).all()
    if conflicts:
        problems.append(f"{len(conflicts)} voucher conflicts recorded (a reused claim id or code,"
                        f" kept for review): {_names(conflicts)}")  # fmt: skip


def _record_entry(engine, pool: str, claim_id: str, record: tuple) -> OutboxEntry:
    """An outbox-shaped claim rebuilt from the engine's claim record; its time comes from the
    claim id, which counts 10 µs ticks of the server clock (inventory/lua/reserve.lua)."""
    _state, member, request_id, payload = record
    tick = claim_number(pool, claim_id) // engine.buckets(pool)
    ts = 1_767_225_600_000 + tick // 100
    fields = {"type": "claim", "claim_id": claim_id, "pool_id": pool, "member_id": member,
              "qty": "1", "request_id": request_id, "ts": str(ts), **payload}  # fmt: skip
    return OutboxEntry(pool, 0, "0-0", fields)


def _cancel_entry(pool: str, claim_id: str) -> OutboxEntry:
    ts = str(int(utcnow().timestamp() * 1000))
    return OutboxEntry(pool, 0, "0-0", {"type": "cancel", "claim_id": claim_id, "ts": ts})


def _store(campaign: Campaign, result: AuditResult, store: bool) -> AuditResult:
    if store:
        db.session.add(
            CampaignAudit(
                campaign_id=campaign.id, ok=result.ok, total_stock=result.total_stock,
                engine_claimed=result.engine_claimed, outbox_claims=result.outbox_claims,
                sql_vouchers=result.sql_vouchers, repersisted=result.repersisted,
                problems=result.problems,
            )
        )  # fmt: skip
        db.session.commit()
    return result


def sales_needing_audit(grace: timedelta = timedelta(seconds=30)) -> list[int]:
    cutoff = utcnow() - grace
    audited = exists().where(CampaignAudit.campaign_id == Campaign.id)
    stmt = select(Campaign.id).where(
        Campaign.published_at.is_not(None),
        or_(Campaign.ends_at < cutoff, Campaign.cancelled_at < cutoff),
        ~audited,
    )
    return list(db.session.scalars(stmt))
