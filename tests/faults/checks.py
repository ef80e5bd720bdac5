"""After a faulted rush: the figures the issue's table quotes, and the invariants that must hold.

Figures are measured before the audit runs (the audit repairs; what it had to repair is a hand
step). Violations are collected, not raised one by one, so every scenario reports all its figures.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict

from sqlalchemy import select

from .stack import FaultStack, http_status

SETTLE_SECONDS = 30  # "every 201 code is a voucher row within +30 s"
READY_SECONDS = 20
IN_FLIGHT_SECONDS = 1.0  # a 201 decided before the kill may reach the member this much later


def make_app(stack: FaultStack):
    from marketplace.config import rq_url_for
    from shihui import create_app

    env = stack.env()
    return create_app({
        "SQLALCHEMY_DATABASE_URI": _normalise(env["DATABASE_URL"]), "REDIS_URL": env["REDIS_URL"],
        "RQ_REDIS_URL": rq_url_for(env["REDIS_URL"]), "SECRET_KEY": env["SECRET_KEY"],
        "ID_HASH_KEY": env["ID_HASH_KEY"], "INSTANCE_DIR": env["SHIHUI_INSTANCE"],
        "LOG_LEVEL": "ERROR", "TESTING": True,
    })  # fmt: skip


def _normalise(url: str) -> str:
    from marketplace.config import normalise_database_url

    return normalise_database_url(url)


def wait_ready(stack: FaultStack, timeout: float = READY_SECONDS) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout and stack.platform_running():
        if http_status(stack.base + "/readyz") == 200:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def sql_vouchers(campaign_id: int) -> dict[str, dict]:
    """code -> row of every voucher of the sale, read afresh."""
    from flashsale.models import Voucher
    from marketplace.extensions import db
    from marketplace.members.models import Card

    db.session.rollback()
    cards = dict(db.session.execute(select(Card.member_id, Card.card_no)).all())
    rows = db.session.execute(
        select(Voucher.code, Voucher.claim_id, Voucher.member_id, Voucher.status).where(
            Voucher.campaign_id == campaign_id
        )
    ).all()
    return {
        r.code: {"claim_id": r.claim_id, "card": cards.get(r.member_id), "status": r.status}
        for r in rows
    }


def wait_for_codes(stack: FaultStack, campaign_id: int, codes: set[str], since: float) -> dict:
    """Poll SQL until every code is a row, ``SETTLE_SECONDS`` after ``since`` at most."""
    rows: dict = {}
    while True:
        with contextlib.suppress(Exception):  # the database may still be coming back
            rows = sql_vouchers(campaign_id)
        done = codes <= set(rows)
        # A stopped supervisor persists nothing more: no need to sit out the 30 s.
        if done or time.time() - since > SETTLE_SECONDS or not stack.platform_running():
            return rows
        time.sleep(0.5)


def engine_stats(campaign_id: int):
    from flashsale.hotpath import get_engine

    try:
        return get_engine().stats(str(campaign_id))
    except Exception as exc:
        return exc


def evaluate(stack: FaultStack, sale: dict, records: list[dict], replays: list[dict],
             events: dict, lossy: bool, ready_after: float | None,
             rows: dict, audit: dict) -> tuple[dict, list[str]]:  # fmt: skip
    """Figures and violations of one scenario."""
    stock, limit = sale["stock"], sale["limit"]
    wins = [(r["card"], w) for r in records + replays for w in r["wins"]]
    codes = {w["code"] for _, w in wins}
    live = {c: row for c, row in rows.items() if row["status"] != "cancelled"}
    missing = sorted(codes - set(rows))
    copy_at, kill_at = events.get("copy_at"), events.get("kill_at")
    # The copy holds every write acknowledged before it began, so only 201s received between the
    # copy and the kill (plus responses still in flight) may be lost. A claim taken after the
    # restart must never be: losing one means an id or code was reused.
    in_window = {
        w["code"] for _, w in wins
        if copy_at is not None and copy_at <= w["at"] <= kill_at + IN_FLIGHT_SECONDS
    }  # fmt: skip
    errors = Counter()
    for r in records + replays:
        errors.update(r["errors"])
    transport = sum(n for k, n in errors.items() if k.startswith("transport:"))
    stats = engine_stats(sale["campaign_id"])
    claimed = getattr(stats, "claimed", None)
    cards_of_code, codes_of_claim, codes_of_card = defaultdict(set), defaultdict(set), {}
    for card, w in wins:
        cards_of_code[w["code"]].add(card)
        codes_of_claim[w["claim_id"]].add(w["code"])
    for r in records:
        codes_of_card[r["card"]] = {w["code"] for w in r["wins"]}
    replay_changed = []
    for r in replays:
        before = codes_of_card.get(r["card"], set())
        after = {w["code"] for w in r["wins"]}
        if after - before or (r["final"] != 201 and before):
            replay_changed.append(r["card"])
    per_member = Counter(row["card"] for row in live.values())
    over_limit = sorted(card for card, n in per_member.items() if n > limit)
    sql_claim_mismatch = [
        w["claim_id"] for _, w in wins
        if w["code"] in rows and rows[w["code"]]["claim_id"] != w["claim_id"]
    ]  # fmt: skip
    figures = {
        "database": "postgresql" if stack.postgres else "sqlite",
        "members": len(records), "stock": stock,
        "tickets_given": len(codes),
        "vouchers_sql": len(live),
        "engine_claimed": claimed,
        "unsold": stock - (claimed if claimed is not None else len(live)),
        "members_without_answer": sum(1 for r in records if r["final"] is None),
        "client_errors": sum(errors.values()),
        "transport_errors": transport,
        "http_500": errors.get("http:500", 0),
        "http_503": errors.get("http:503", 0),
        "vouchers_missing_at_30s": len(missing),
        "codes_in_loss_window": len(in_window) if copy_at is not None else None,
        "lost_codes": sorted(set(missing) & in_window)[:50] if lossy else None,
        "replay_changed": len(replay_changed),
        "members_over_limit": len(over_limit),
        "ready_after_s": ready_after,
        "platform_running": stack.platform_running(),
        "hand_steps": (0 if stack.platform_running() and ready_after is not None else 1)
        + (1 if audit.get("repersisted") else 0),
        "audit_ok": audit.get("ok"),
        "audit_problems": audit.get("problems"),
        "events": {k: v for k, v in events.items() if not k.endswith("_at")},
    }  # fmt: skip
    v = []
    if events.get("fault_error"):
        v.append(f"the fault could not be injected: {events['fault_error']}")
    if not stack.platform_running():
        v.append(f"the supervisor stopped the platform; log tail:\n{stack.log_tail(1500)}")
    if ready_after is None:
        v.append(f"/readyz not 200 within {READY_SECONDS} s after the rush")
    if figures["members_without_answer"]:
        v.append(f"{figures['members_without_answer']} members never got a final answer")
    if figures["http_500"]:
        v.append(f"{figures['http_500']} claims answered 500 (a retryable 503 is due)")
    if sum(r["no_retry_after_503"] for r in records + replays):
        v.append("503 answers without Retry-After")
    if len(live) > stock or (claimed is not None and claimed > stock):
        v.append(f"oversell: SQL {len(live)}, engine {claimed}, stock {stock}")
    if len(codes - set(missing)) > stock:
        v.append(f"oversell: {len(codes - set(missing))} distinct kept codes for {stock}")
    if len(live) != stock or claimed != stock:
        v.append(f"not sold out though demand exceeds stock: SQL {len(live)}, engine {claimed}")
    if [c for c, cards in cards_of_code.items() if len(cards) > 1]:
        v.append("one code was given to two members")
    reused = {cid: cs for cid, cs in codes_of_claim.items() if len(cs) > 1}
    if reused:
        v.append(f"{len(reused)} claim ids answered with two different codes")
    if sql_claim_mismatch:
        v.append(f"{len(sql_claim_mismatch)} SQL rows carry another claim id than their 201")
    if over_limit:
        v.append(f"{len(over_limit)} members hold more than {limit} voucher(s) in SQL")
    lost = set(missing)
    if lossy:
        if lost - in_window:
            v.append(f"{len(lost - in_window)} codes lost outside the window [copy, kill]")
        allowed = {r["card"] for r in records if {w["code"] for w in r["wins"]} & lost}
        if set(replay_changed) - allowed:
            v.append(f"{len(set(replay_changed) - allowed)} same-key retries changed answer")
        # Not asserted: that the audit lists the lost codes. No store kept them (docs/flashsale.md,
        # "The remaining window"); this test names them (figures["lost_codes"]).
    else:
        if missing:
            v.append(f"{len(missing)} codes answered 201 have no voucher row at +30 s")
        if replay_changed:
            v.append(f"{len(replay_changed)} same-key retries got another answer")
    if not audit.get("ok"):
        v.append(f"audit: {audit.get('problems')}")
    return figures, v
