"""``shihui loadtest prepare`` and ``audit``: a realistic sale to rehearse, and the verdict.

``prepare`` writes into ``--out``: ``tokens.csv`` (card_no,token), ``clerks.csv``
(username,token), ``sale.json`` (campaign id, stock, limit, opening time).
``audit`` reads the same folder plus what the rush recorded (``outcomes.json``, ``codes.txt``)
and checks every ticket: claims == min(stock, demand), nobody above the limit,
engine == outbox == SQL, and every code Locust saw in a 201 is a voucher row.
"""

from __future__ import annotations

import csv
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from marketplace.extensions import db

LOADTEST_PASSWORD = "loadtest-pass"  # noqa: S105 - load-test accounts only


def prepare_sale(members: int, stock: int, limit: int, starts_in: int, out: Path,
                 region: str = "130102", duration: int = 3600, clerks: int = 4,
                 progress: Callable[[int], None] | None = None, mode: str = "first_come",
                 admission_rate: float | None = None) -> dict:  # fmt: skip
    """Create a merchant with clerks, ``members`` activated members with tokens, and a
    published sale of ``stock`` tickets opening ``starts_in`` seconds from now (``mode``
    ``queue``: with a waiting room, open from now, admitting ``admission_rate`` per second)."""
    from flashsale import services as sales
    from marketplace.auth.passwords import hash_password
    from marketplace.auth.services import create_account
    from marketplace.auth.tokens import issue_token, principal_for
    from marketplace.members.bulk import BulkSpec, create_members
    from marketplace.merchants import create_merchant

    out.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(3)
    merchant, owner = create_merchant(
        name_zh=f"压测影城 {tag}", name_en=f"Rehearsal Cinema {tag}", category="cinema",
        region=region, owner=f"rehearsal-owner-{tag}", password=LOADTEST_PASSWORD,
    )  # fmt: skip
    with (out / "clerks.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["username", "token"])
        for n in range(clerks):
            clerk = create_account(f"rehearsal-clerk-{tag}-{n}", LOADTEST_PASSWORD,
                                   "merchant_clerk", merchant_id=merchant.id)  # fmt: skip
            writer.writerow([clerk.username, issue_token(clerk)["access_token"]])
    # One card prefix and ID region for every rehearsal: the bulk sequence continues from the
    # cards already there, so a second prepare in the same database creates new people.
    spec = BulkSpec(card_prefix="888801", id_region="110106", birth_start=date(1950, 1, 1),
                    region=region, branch="压测", phone_prefix="198")  # fmt: skip
    shared_hash = hash_password(LOADTEST_PASSWORD)
    with (out / "tokens.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["card_no", "token"])
        for n, principal in enumerate(create_members(spec, members, shared_hash), 1):
            writer.writerow([principal.card_no, issue_token(None, principal)["access_token"]])
            if progress and n % 1000 == 0:
                progress(1000)
    if progress:
        progress(members % 1000)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=starts_in)
    owner_principal = principal_for(owner)
    campaign = sales.create(owner_principal, {
        "title": f"压测免费电影票 {tag}", "description": "Sale rehearsal", "category": "movie",
        "venue": "压测影城", "total_stock": stock, "per_member_limit": limit,
        "starts_at": starts, "ends_at": starts + timedelta(seconds=duration),
        "valid_from": starts, "valid_until": starts + timedelta(days=30),
        "cancel_deadline": starts + timedelta(days=1), "regions": [], "mode": mode,
        **({"queue_opens_at": datetime.now(UTC) - timedelta(seconds=1),
            "admission_rate": admission_rate or 50.0} if mode == "queue" else {}),
    })  # fmt: skip
    sales.publish(owner_principal, campaign.id)
    sale = {
        "campaign_id": campaign.id, "merchant_id": merchant.id, "stock": stock, "limit": limit,
        "members": members, "starts_at": starts.isoformat(), "starts_at_epoch": starts.timestamp(),
        "mode": mode,
    }  # fmt: skip
    (out / "sale.json").write_text(json.dumps(sale, indent=2))
    return sale


def wait_for_drain(campaign_id: int, timeout: float = 60.0) -> float:
    """Drain the outbox until SQL has every claim; returns the seconds it took."""
    from flashsale.hotpath import get_engine
    from flashsale.jobs import drain_outbox
    from flashsale.models import Campaign

    started = time.monotonic()
    pool = db.session.get(Campaign, campaign_id).pool_id
    engine = get_engine()
    while time.monotonic() - started < timeout:
        drain_outbox(kind="audit")
        claimed = engine.stats(pool).claimed
        if _sql_vouchers(campaign_id) >= claimed:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def _sql_vouchers(campaign_id: int) -> int:
    from flashsale.models import Voucher

    return db.session.execute(
        select(func.count()).where(
            Voucher.campaign_id == campaign_id, Voucher.status != "cancelled"
        )  # fmt: skip
    ).scalar_one()


def audit_rehearsal(data_dir: Path) -> dict:
    """The verdict of a rehearsal; ``ok`` is False on any violation."""
    from flashsale.audit import run_audit
    from flashsale.models import Voucher

    sale = json.loads((data_dir / "sale.json").read_text())
    campaign_id = sale["campaign_id"]
    drained_in = wait_for_drain(campaign_id)
    engine_audit = run_audit(campaign_id).as_dict()
    problems = list(engine_audit["problems"])
    outcomes = {}
    if (data_dir / "outcomes.json").exists():
        outcomes = json.loads((data_dir / "outcomes.json").read_text())
    counts = outcomes.get("counts", {})
    demand_members = outcomes.get("members", 0)
    claims = engine_audit["sql_vouchers"]
    expected = min(sale["stock"], demand_members * sale["limit"])
    # With limit 1 every member who pressed wants exactly one ticket, so demand is exact;
    # with higher limits members stop pressing early, so only the stock bound is checkable.
    if sale["limit"] == 1 and demand_members and claims != expected:
        problems.append(f"claims {claims} != min(stock {sale['stock']}, demand {demand_members})")
    if claims > sale["stock"]:
        problems.append(f"oversell: {claims} vouchers for {sale['stock']} tickets")
    codes = []
    if (data_dir / "codes.txt").exists():
        codes = [c for c in (data_dir / "codes.txt").read_text().split() if c]
    known = set()
    for start in range(0, len(codes), 900):
        chunk = codes[start : start + 900]
        known.update(db.session.execute(
            select(Voucher.code).where(Voucher.campaign_id == campaign_id, Voucher.code.in_(chunk))
        ).scalars())  # fmt: skip
    lost = [c for c in set(codes) if c not in known]
    if lost:
        problems.append(f"{len(lost)} codes answered with 201 have no voucher row: {lost[:5]}")
    if counts.get("created", 0) != len(codes):
        problems.append(f"201 count {counts.get('created', 0)} != codes recorded {len(codes)}")
    return {
        "ok": not problems, "problems": problems, "campaign_id": campaign_id,
        "stock": sale["stock"], "limit": sale["limit"], "demand_members": demand_members,
        "claims_sql": claims, "engine_claimed": engine_audit["engine_claimed"],
        "outbox_claims": engine_audit["outbox_claims"], "repersisted": engine_audit["repersisted"],
        "codes_from_201": len(codes), "outcomes": counts, "drain_seconds": round(drained_in, 2),
    }  # fmt: skip
