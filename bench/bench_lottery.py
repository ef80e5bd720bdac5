"""A lottery draw at scale (issue #14, item 3): 500,000 registrations drawn and every winner's
voucher in SQL, timed.

    python bench/bench_lottery.py [--entrants 500000] [--winners 40000] [--database-url URL]

Creates a lottery sale on the bundled Valkey and a fresh SQLite database in a temporary
directory (or the PostgreSQL database given with ``--database-url``; it must be empty: the
script runs the migrations), inserts the registrations in bulk (registering is not what is
measured), waits for registration to close, then times:

- ``draw``   ``flashsale.lottery.run_draw``: read the entrants, order them by the recipe (seed +
             beacon + entrants hash; the ``fixed`` beacon adapter, no network), store every
             place and outcome, reserve every winner's voucher through the stock engine
- ``drain``  the outbox into SQL voucher rows (``flashsale.jobs.drain_outbox`` until SQL holds
             every winner's voucher) — the same path a claim takes
- ``verify`` ``shihui draw verify``'s recomputation from the public record (not in the total)

Prints the figures (seconds, median of ``--rounds``) and writes bench/results-lottery-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory.server import EmbeddedRedis  # noqa: E402

CLOSES_IN = 90  # seconds: registration stays open while the entries are inserted


def make_members(count: int) -> list[int]:
    """``count`` real member rows (cards issued, no accounts: the draw needs neither a login nor
    an active card) in bulk, as demo data and ``shihui loadtest`` create them; their ids."""
    from sqlalchemy import select

    from marketplace.extensions import db
    from marketplace.members.bulk import BulkSpec, create_members
    from marketplace.members.models import Card

    prefix = "777701"
    spec = BulkSpec(card_prefix=prefix, id_region="130102", birth_start=date(1950, 1, 1),
                    branch="抽签压测", phone_prefix="197", status="issued")  # fmt: skip
    for _ in create_members(spec, count):  # issued cards: nothing yielded, a commit per chunk
        pass
    return list(db.session.scalars(select(Card.member_id).where(Card.card_no.like(prefix + "%"))
                                   .order_by(Card.member_id).limit(count)))  # fmt: skip


def count_notices(campaign_id: int) -> int:
    from sqlalchemy import func, select

    from marketplace.extensions import db
    from messaging.models import Notice

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Notice)
                             .where(Notice.key == f"lottery:{campaign_id}"))  # fmt: skip


def one_round(members: list[int], winners: int, tag: str, closes_in: float = CLOSES_IN) -> dict:
    from sqlalchemy import func, insert, select

    from flashsale import lottery
    from flashsale import services as sales
    from flashsale.jobs import drain_outbox
    from flashsale.models import Campaign, LotteryEntry, Voucher
    from marketplace.auth.tokens import principal_for
    from marketplace.extensions import db
    from marketplace.merchants import create_merchant

    entrants = len(members)
    merchant, owner = create_merchant(
        name_zh=f"抽签 {tag}",
        category="cinema",
        region="130102",
        owner=f"bench-lottery-{tag}",
        password=secrets.token_hex(8),
    )
    principal = principal_for(owner)
    now = datetime.now(UTC)
    campaign = sales.create(principal, {
        "title": f"抽签 {tag}", "category": "movie", "total_stock": winners,
        "per_member_limit": 1, "mode": "lottery", "starts_at": now - timedelta(minutes=1),
        "ends_at": now + timedelta(seconds=closes_in), "valid_from": now,
        "valid_until": now + timedelta(days=30), "cancel_deadline": now + timedelta(days=1),
    })  # fmt: skip
    sales.publish(principal, campaign.id)
    t0 = time.perf_counter()
    for start in range(0, entrants, 50_000):
        rows = [{"campaign_id": campaign.id, "member_id": m, "ticket": secrets.token_hex(8)}
                for m in members[start : start + 50_000]]  # fmt: skip
        db.session.execute(insert(LotteryEntry), rows)
        db.session.commit()
    print(f"  {entrants:,} registrations inserted in {time.perf_counter() - t0:.1f} s", flush=True)
    left = campaign.ends_at.timestamp() - time.time()
    print(f"  registration closes in {left:.1f} s", flush=True)
    time.sleep(max(0.0, left + 0.1))
    # A running platform's drainer has long reconciled this Redis with SQL (flashsale.recovery,
    # once per Redis run): do that first pass before the clock starts, not in the drain.
    drain_outbox(kind="bench")
    campaign = db.session.get(Campaign, campaign.id)

    t0 = time.perf_counter()
    record = lottery.run_draw(campaign)
    t1 = time.perf_counter()
    told_at_draw = count_notices(campaign.id)
    while True:
        drain_outbox(kind="bench")
        db.session.rollback()
        stored = db.session.scalar(select(func.count()).select_from(Voucher)
                                   .where(Voucher.campaign_id == campaign.id))  # fmt: skip
        if stored >= record.winners:
            break
    t2 = time.perf_counter()
    tell = getattr(lottery, "tell_waiting", None)  # the bulk path: the waiting list's notices
    if tell is not None:
        tell(campaign.id)
    t3 = time.perf_counter()
    told = count_notices(campaign.id)
    problems = lottery.verify(campaign.id)
    t4 = time.perf_counter()
    assert not problems, problems
    assert stored == record.winners == min(winners, entrants)
    assert told == entrants, (told, entrants)
    return {
        "draw_s": t1 - t0, "drain_s": t2 - t1, "vouchers_in_sql_s": t2 - t0,
        "notices_after_s": t3 - t2, "total_s": t3 - t0, "verify_s": t4 - t3,
        "entrants": record.entrants, "winners": record.winners, "vouchers_in_sql": stored,
        "notices_at_draw": told_at_draw, "notices": told,
        "entries_per_s": record.entrants / (t1 - t0), "vouchers_per_s": stored / (t2 - t0),
        "notices_per_s": told / ((t1 - t0) if tell is None else (t3 - t2)),
        "loadavg": os.getloadavg(),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="lottery draw at scale")
    parser.add_argument("--entrants", type=int, default=500_000)
    parser.add_argument("--winners", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--closes-in",
        type=float,
        default=CLOSES_IN,
        help="seconds registration stays open (enough to insert the entries)",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL of an empty database")
    out = ROOT / "bench" / f"results-lottery-{date.today()}.json"
    parser.add_argument("--out", default=str(out))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-lottery-bench-"))
    server = EmbeddedRedis(work / "redis").start()
    database = args.database_url or f"sqlite:///{work}/bench.db"
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=database,
               LOTTERY_BEACON="fixed", PYTHONPATH=str(ROOT))  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL", "LOTTERY_BEACON")})  # fmt: skip
    try:
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)  # fmt: skip
        from shihui import create_app

        app = create_app()
        rounds = []
        with app.app_context():
            t0 = time.perf_counter()
            members = make_members(args.entrants)
            print(f"{len(members):,} member rows created in {time.perf_counter() - t0:.1f} s "
                  "(not timed)", flush=True)  # fmt: skip
            for n in range(args.rounds):
                r = one_round(members, args.winners, secrets.token_hex(3), args.closes_in)
                rounds.append(r)
                print(f"round {n + 1}: draw {r['draw_s']:.1f} s + vouchers into SQL "
                      f"{r['drain_s']:.1f} s = {r['vouchers_in_sql_s']:.1f} s to every winner's "
                      f"voucher in SQL; waiting-list notices after it {r['notices_after_s']:.1f} s "
                      f"(total {r['total_s']:.1f} s); {r['entrants']:,} entrants, "
                      f"{r['winners']:,} winners, {r['vouchers_in_sql']:,} vouchers, "
                      f"{r['notices']:,} notices ({r['notices_at_draw']:,} written by the draw); "
                      f"{r['entries_per_s']:,.0f} entries/s drawn, {r['vouchers_per_s']:,.0f} "
                      f"vouchers/s, {r['notices_per_s']:,.0f} notices/s; verify "
                      f"{r['verify_s']:.1f} s; load average {r['loadavg'][0]:.1f}",
                      flush=True)  # fmt: skip
        keys = ("draw_s", "drain_s", "vouchers_in_sql_s", "notices_after_s", "total_s",
                "verify_s", "entries_per_s", "vouchers_per_s", "notices_per_s")  # fmt: skip
        med = {k: statistics.median(r[k] for r in rounds) for k in keys}
        kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
        load = os.getloadavg()
        print(f"\nmedian of {args.rounds}: {med['vouchers_in_sql_s']:.1f} s from the draw to the "
              f"last winner's voucher in SQL ({kind}, target < 60 s): draw {med['draw_s']:.1f} s, "
              f"drain {med['drain_s']:.1f} s; waiting-list notices {med['notices_after_s']:.1f} s "
              f"after it ({med['notices_per_s']:,.0f}/s); everything {med['total_s']:.1f} s; "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip
        Path(args.out).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "database": kind,
            "loadavg": load, "args": vars(args), "medians": med, "rounds": rounds,
        }, indent=2))  # fmt: skip
        print(f"wrote {args.out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
