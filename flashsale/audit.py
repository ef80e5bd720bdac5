"""Audit a sale: engine counters vs the outbox (the record of every decision) vs SQL vouchers.

The outbox is never trimmed, so it is the reference: every claim the engine granted is in it.
The audit re-persists claims missing from SQL and finishes cancellations that SQL recorded but the
engine did not see (a crash between the two writes); it never creates a voucher without an
outbox record. Anything else that does not add up is a problem, and any problem fails the audit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import exists, or_, select

from inventory import ClaimNotFound, OutboxEntry, PoolNotFound
from marketplace.extensions import db
from marketplace.models import utcnow

from .hotpath import get_engine
from .models import Campaign, CampaignAudit, Voucher
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


def _outbox(engine, pool_id: str) -> tuple[dict[str, OutboxEntry], set[str]]:
    claims, cancels = {}, set()
    for bucket, key in enumerate(engine.outbox_streams(pool_id)):
        last = "-"
        while True:
            batch = engine.client.xrange(key, min=last, max="+", count=5000)
            if last != "-":
                batch = batch[1:]
            if not batch:
                break
            for entry_id, data in batch:
                f = {k.decode(): v.decode() for k, v in data.items()}
                if f.get("type") == "claim":
                    claims[f["claim_id"]] = OutboxEntry(pool_id, bucket, entry_id.decode(), f)
                elif f.get("type") in ("cancel", "release", "expire"):
                    cancels.add(f["claim_id"])
            last = batch[-1][0].decode()
    return claims, cancels


def _sql(campaign_id: int) -> dict[str, tuple[str, int]]:
    rows = db.session.execute(
        select(Voucher.claim_id, Voucher.status, Voucher.member_id).where(
            Voucher.campaign_id == campaign_id
        )
    )
    return {r.claim_id: (r.status, r.member_id) for r in rows}


def run_audit(campaign_id: int, store: bool = True) -> AuditResult:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    result = AuditResult(campaign_id, campaign.total_stock)
    if campaign.status == "draft":
        result.problems.append("the campaign is a draft: nothing to audit")
        return _store(campaign, result, store)
    engine, pool = get_engine(), campaign.pool_id
    try:
        stats = engine.stats(pool)
        result.engine_claimed = stats.claimed
        claims, cancels = _outbox(engine, pool)
    except PoolNotFound:
        result.problems.append("the engine has no pool for this sale (Redis lost it?)")
        claims, cancels = {}, set()
        stats = None
    live_outbox = set(claims) - cancels
    result.outbox_claims = len(live_outbox)

    sql = _sql(campaign_id)
    missing = [claims[c] for c in claims if c not in sql]
    stale_cancels = [c for c in cancels if c in sql and sql[c][0] == "issued"]
    if missing or stale_cancels:
        fixes = missing + [_cancel_entry(pool, c) for c in stale_cancels]
        persist_entries(fixes)
        result.repersisted = len(missing)
        sql = _sql(campaign_id)
    for claim_id, (status, _member) in sql.items():
        if status == "cancelled" and claim_id in live_outbox:
            try:
                if engine.cancel(pool, claim_id).changed:
                    result.recancelled += 1
                    live_outbox.discard(claim_id)
            except (ClaimNotFound, PoolNotFound):
                pass
    result.outbox_claims = len(live_outbox)
    if stats is not None and result.recancelled:
        result.engine_claimed = engine.stats(pool).claimed

    live_sql = {c for c, (s, _m) in sql.items() if s != "cancelled"}
    result.sql_vouchers = len(live_sql)
    total = stats.total if stats is not None else campaign.total_stock
    for name, count in (
        ("engine", result.engine_claimed), ("outbox", len(live_outbox)), ("SQL", len(live_sql))
    ):  # fmt: skip
        if count is not None and count > total:
            result.problems.append(f"oversell: {name} counts {count} tickets of {total}")
    if result.engine_claimed is not None and result.engine_claimed != len(live_outbox):
        result.problems.append(
            f"mismatch: engine counts {result.engine_claimed} claims, outbox {len(live_outbox)}"
        )
    if live_sql != live_outbox and claims:
        extra, lacking = live_sql - live_outbox, live_outbox - live_sql
        result.problems.append(
            f"mismatch: {len(extra)} SQL vouchers without a live outbox claim, "
            f"{len(lacking)} outbox claims without a live SQL voucher"
        )
    per_member = Counter(m for c, (s, m) in sql.items() if s != "cancelled")
    over = {m: n for m, n in per_member.items() if n > campaign.per_member_limit}
    if over:
        result.problems.append(f"{len(over)} members hold more than the limit: {sorted(over)[:10]}")
    return _store(campaign, result, store)


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
