"""Admin console reads: every sale with its latest flash-sale audit, roster imports."""

from __future__ import annotations

from sqlalchemy import func, select

from flashsale import services as fs
from flashsale.models import Campaign, CampaignAudit
from marketplace.extensions import db
from marketplace.members.models import MemberImport, MemberImportError


def sales_query(merchant_id: int | None = None):
    stmt = select(Campaign).order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    if merchant_id is not None:
        stmt = stmt.where(Campaign.merchant_id == merchant_id)
    return stmt


def with_audits(campaigns: list[Campaign]) -> list[Campaign]:
    """Attach ``last_audit``, ``effective_status`` (stock from one engine pipeline) and
    ``redis_bytes`` (what the sale still takes in Redis: 0 once retired)."""
    ids = [c.id for c in campaigns]
    latest = {}
    if ids:
        newest = (
            select(func.max(CampaignAudit.id))
            .where(CampaignAudit.campaign_id.in_(ids))
            .group_by(CampaignAudit.campaign_id)
        )
        for audit in db.session.scalars(select(CampaignAudit).where(CampaignAudit.id.in_(newest))):
            latest[audit.campaign_id] = audit
    remaining = fs.remaining_of(campaigns)
    redis_bytes = fs.sale_bytes(campaigns)
    for c in campaigns:
        c.last_audit = latest.get(c.id)
        c.effective_status = fs.effective_status(c, remaining=remaining.get(c.id))
        c.redis_bytes = redis_bytes.get(c.id, 0)
    return campaigns


def imports_query():
    return select(MemberImport).order_by(MemberImport.id.desc())


def import_reasons(imp: MemberImport) -> list[tuple[str, str, int]]:
    """(code, an example stored message, rows) of each reason, most frequent first."""
    rows = db.session.execute(
        select(MemberImportError.code, func.min(MemberImportError.message), func.count())
        .where(MemberImportError.import_id == imp.id)
        .group_by(MemberImportError.code)
        .order_by(func.count().desc(), MemberImportError.code)
    ).all()
    return [(code, message, n) for code, message, n in rows]


def rejected_rows(imp: MemberImport, limit: int) -> list[MemberImportError]:
    """The first ``limit`` refused rows (ID numbers stored masked), in file order."""
    return list(db.session.scalars(
        select(MemberImportError).where(MemberImportError.import_id == imp.id)
        .order_by(MemberImportError.row_no).limit(limit)
    ))  # fmt: skip


def import_progress(imp: MemberImport) -> dict:
    done = 100 if imp.status == "done" else 0
    percent = int(100 * imp.processed / imp.total) if imp.total else done
    return {
        "id": imp.id, "status": imp.status, "processed": imp.processed, "total": imp.total,
        "percent": percent, "created": imp.created, "skipped_existing": imp.skipped_existing,
        "rejected": imp.rejected, "failure": imp.failure,
    }  # fmt: skip
