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


def one_round(entrants: int, winners: int, tag: str, closes_in: float = CLOSES_IN) -> dict:
    from sqlalchemy import func, insert, select

    from flashsale import lottery
    from flashsale import services as sales
    from flashsale.jobs import drain_outbox
    from flashsale.models import Campaign, LotteryEntry, Voucher
    from marketplace.auth.tokens import principal_for
    from marketplace.extensions import db
    from marketplace.merchants import create_merchant

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
    base = 10_000_000 * (int(tag, 16) % 1000 + 1)
    for start in range(0, entrants, 50_000):
        rows = [{"campaign_id": campaign.id, "member_id": base + n, "ticket": secrets.token_hex(8)}
                for n in range(start, min(entrants, start + 50_000))]  # fmt: skip
        db.session.execute(insert(LotteryEntry), rows)
        db.session.commit()
    print(f"  {entrants:,} registrations inserted in {time.perf_counter() - t0:.1f} s", flush=True)
    left = campaign.ends_at.timestamp() - time.time()
    print(f"  registration closes in {left:.1f} s", flush=True)
    time.sleep(max(0.0, left + 0.1))
    campaign = db.session.get(Campaign, campaign.id)

    t0 = time.perf_counter()
    record = lottery.run_draw(campaign)
    t1 = time.perf_counter()
    while True:
        drain_outbox(kind="bench")
        db.session.rollback()
        stored = db.session.scalar(select(func.count()).select_from(Voucher)
                                   .where(Voucher.campaign_id == campaign.id))  # fmt: skip
        if stored >= record.winners:
            break
    t2 = time.perf_counter()
    problems = lottery.verify(campaign.id)
    t3 = time.perf_counter()
    assert not problems, problems
    assert stored == record.winners == min(winners, entrants)
    return {
        "draw_s": t1 - t0, "drain_s": t2 - t1, "total_s": t2 - t0, "verify_s": t3 - t2,
        "entrants": record.entrants, "winners": record.winners, "vouchers_in_sql": stored,
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
            for n in range(args.rounds):
                r = one_round(args.entrants, args.winners, secrets.token_hex(3), args.closes_in)
                rounds.append(r)
                print(f"round {n + 1}: draw {r['draw_s']:.1f} s + vouchers into SQL "
                      f"{r['drain_s']:.1f} s = {r['total_s']:.1f} s for {r['entrants']:,} "
                      f"entrants, {r['winners']:,} winners ({r['vouchers_in_sql']:,} vouchers "
                      f"in SQL); verify {r['verify_s']:.1f} s", flush=True)  # fmt: skip
        med = {k: statistics.median(r[k] for r in rounds)
               for k in ("draw_s", "drain_s", "total_s", "verify_s")}  # fmt: skip
        kind = "PostgreSQL" if database.startswith("postgres") else "SQLite"
        load = os.getloadavg()
        print(f"\nmedian of {args.rounds}: {med['total_s']:.1f} s from the draw to the last "
              f"winner's voucher in SQL ({kind}, target < 60 s); draw {med['draw_s']:.1f} s, "
              f"drain {med['drain_s']:.1f} s; load average {load[0]:.1f}")  # fmt: skip
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
