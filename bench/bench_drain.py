"""The outbox drainer on its own: how many voucher rows per second it writes into SQL.

    python bench/bench_drain.py [--claims 50000] [--rounds 3] [--batch 500 2000]
                                [--pg-url postgresql://postgres@127.0.0.1:5432/shihui_bench_drain]

Each round fills a sale's outbox with ``--claims`` claims while no drainer runs (the engine's
reserve script, as the claim endpoint calls it), then times one drainer pass — the same
``drain_pool`` the production drainer and the RQ job run: read a batch (XREADGROUP), insert the
rows (multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, then the conflict check), COMMIT,
XACK — until the outbox is empty. It prints rows/s and CPU per row of the drainer process and of
the PostgreSQL backend serving it (from /proc), per batch size, and SQLite as a second column.
A database it creates (and drops at the end) on the machine's PostgreSQL; a bundled Valkey.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import cpu_seconds  # noqa: E402
from inventory.server import EmbeddedRedis  # noqa: E402


def admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def recreate_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(admin_url(url).replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")  # fmt: skip
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(admin_url(url).replace("postgresql://", "postgresql+psycopg://"),
                           isolation_level="AUTOCOMMIT")  # fmt: skip
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def run_database(label: str, database_url: str, args, redis_url: str, work: Path) -> list[dict]:
    """All rounds and batch sizes against one database; returns one record per measurement."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from flashsale.hotpath import get_engine
    from flashsale.jobs import GROUP, drain_pool
    from flashsale.models import Voucher
    from inventory import OutboxConsumer
    from loadtests.prepare import prepare_sale
    from marketplace.extensions import db
    from marketplace.members.models import Member
    from shihui import create_app

    os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url,
                      SHIHUI_INSTANCE=str(work), SECRET_KEY="bench-secret-" + "x" * 40)  # fmt: skip
    app = create_app()
    records = []
    with app.app_context():
        upgrade()
        sale = prepare_sale(args.members, 10**9, 10**6, 0, work / label, clerks=0)
        pool = str(sale["campaign_id"])
        member_ids = [str(m) for m in db.session.scalars(select(Member.id).limit(args.members))]
        engine = get_engine()
        consumer = OutboxConsumer(engine, group=GROUP, consumer="bench-drainer")
        pg_pid = None
        if db.engine.dialect.name == "postgresql":
            pg_pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.commit()
        serial = 0
        for rnd in range(args.rounds):
            for batch in args.batch:
                # Fill the outbox with no drainer running.
                for _ in range(args.claims):
                    serial += 1
                    result = engine.reserve(pool, member_ids[serial % len(member_ids)], 1,
                                            f"bench-{serial}", {"code": f"B{serial:015d}"},
                                            use_cache=False)  # fmt: skip
                    assert result.ok, result
                before = db.session.execute(select(func.count()).select_from(Voucher)).scalar()
                db.session.commit()
                own0 = time.process_time()
                pg0 = cpu_seconds([pg_pid]) if pg_pid else 0.0
                t0 = time.perf_counter()
                moved = drain_pool(consumer, pool, batch, None)
                elapsed = time.perf_counter() - t0
                own = time.process_time() - own0
                pg = (cpu_seconds([pg_pid]) - pg0) if pg_pid else 0.0
                after = db.session.execute(select(func.count()).select_from(Voucher)).scalar()
                db.session.commit()
                assert moved == args.claims, (moved, args.claims)
                assert after - before == args.claims, (before, after)
                consumer.trim(pool)
                rec = {"db": label, "round": rnd + 1, "batch": batch, "rows": moved,
                       "seconds": round(elapsed, 3), "rows_per_s": round(moved / elapsed, 1),
                       "drainer_cpu_us_per_row": round(own * 1e6 / moved, 1),
                       "db_cpu_us_per_row": round(pg * 1e6 / moved, 1) if pg_pid else None,
                       }  # fmt: skip
                records.append(rec)
                print(f"{label} round {rnd + 1} batch {batch}: {rec['rows_per_s']:,.0f} rows/s, "
                      f"drainer {rec['drainer_cpu_us_per_row']} µs/row, "
                      f"database {rec['db_cpu_us_per_row']} µs/row", flush=True)  # fmt: skip
        db.session.remove()
        db.engine.dispose()
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[500, 2000])
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432/shihui_bench_drain"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-drain-"))
    server = EmbeddedRedis(work / "redis").start()
    records = []
    try:
        recreate_database(args.pg_url)
        records += run_database("postgresql", args.pg_url, args, server.url + "/0", work)
        if not args.no_sqlite:
            records += run_database("sqlite", f"sqlite:///{work}/drain.db", args,
                                    server.url + "/1", work)  # fmt: skip
    finally:
        server.stop()
        drop_database(args.pg_url)

    print("\ndatabase    batch   rows/s (median)   drainer µs/row   database µs/row")
    summary = []
    for label in ("postgresql", "sqlite"):
        for batch in args.batch:
            rs = [r for r in records if r["db"] == label and r["batch"] == batch]
            if not rs:
                continue
            db_cpu = [r["db_cpu_us_per_row"] for r in rs if r["db_cpu_us_per_row"] is not None]
            row = {"db": label, "batch": batch,
                   "rows_per_s": statistics.median(r["rows_per_s"] for r in rs),
                   "drainer_cpu_us_per_row": statistics.median(
                       r["drainer_cpu_us_per_row"] for r in rs),
                   "db_cpu_us_per_row": statistics.median(db_cpu) if db_cpu else None}  # fmt: skip
            summary.append(row)
            db_text = f"{row['db_cpu_us_per_row']:.1f}" if db_cpu else "-"
            print(f"{label:<11} {batch:>5} {row['rows_per_s']:>17,.0f} "
                  f"{row['drainer_cpu_us_per_row']:>16.1f} {db_text:>17}")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"drain-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"summary": summary, "rounds": records, "args": vars(args),
                                "loadavg": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
