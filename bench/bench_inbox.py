"""Announcements at city scale (issue #16, item 2): O(1) publishing and the member's inbox.

    .venv/bin/python bench/bench_inbox.py [--members 2000000] [--announcements 1000]
        [--samples 2000] [--reads 2000000] [--no-baseline]
        [--database postgresql://postgres@127.0.0.1:5432/wt_msg]

Builds, in its own PostgreSQL schema (``bench_inbox``, dropped first), the organisation tree
(the city, one district per region of regions.csv, 60 branches each), ``--members`` members
spread over the branches (COPY), ``--announcements`` announcements through the real service
(``messaging.announcements.create``: 10 % to everyone, 10 % to a region, 30 % to a district,
50 % to a branch, published over the last 60 days) and ``--reads`` random read markers (COPY).
Then it measures:

- ``publish``: the wall time of ``create()`` for each announcement (p50/p99/max), and of one
  announcement to everyone while all members exist;
- ``inbox``: ``announcements.inbox(principal, page 1, 20 per page)`` (the query behind
  ``/m/messages`` and ``GET /api/v1/messages/announcements``: the items with their read flags
  and the total) for ``--samples`` random members, p50/p99;
- ``unread``: ``announcements.unread_count`` (the navigation badge) for the same members;
- baseline, in the same run: the fan-out design this one avoids, one row per recipient for an
  announcement to everyone (``INSERT ... SELECT`` into an unlogged table), timed once.

Prints the figures and writes ``bench/results-inbox-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA = "bench_inbox"
BRANCHES_PER_DISTRICT = 60


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "max_ms": round(max(ms), 3),
    }


def make_app(url: str, fresh: bool = True):
    from sqlalchemy import create_engine, text

    base = create_engine(url)
    if fresh:
        with base.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    base.dispose()
    from shihui import create_app

    sep = "&" if "?" in url else "?"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"{url}{sep}options=-csearch_path%3D{SCHEMA}",
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
            "RQ_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
            "LOG_LEVEL": "WARNING",
        }
    )
    return app


def seed_tree() -> list[tuple[int, str]]:
    """(branch id, region) of every branch."""
    from marketplace import orgs
    from marketplace.extensions import db
    from marketplace.members import identity

    branches = []
    for region in identity.regions():
        for b in range(BRANCHES_PER_DISTRICT):
            branches.append((orgs.ensure_branch(region, f"第{b + 1}分会"), region))
    db.session.commit()
    return branches


def copy_rows(table: str, columns: str, rows) -> None:
    from marketplace.extensions import db

    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    db.session.commit()


def seed_members(n: int, branches) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)

    def rows():
        for i in range(1, n + 1):
            org_id, region = branches[i % len(branches)]
            yield (
                f"会员{i}", f"{i:064x}", f"{i % 10000:04d}", f"139{i % 10**8:08d}",
                "", region, org_id, now,
            )  # fmt: skip

    copy_rows("members", "name, id_hash, id_last4, phone, branch, region, org_id, created_at",
              rows())  # fmt: skip
    from sqlalchemy import text

    from marketplace.extensions import db

    db.session.execute(text("ANALYZE members"))
    db.session.commit()
    return time.perf_counter() - started


class Admin:
    account_id, role = None, "admin"


def publish_all(count: int, branches, rng) -> list[float]:
    from marketplace import orgs
    from marketplace.extensions import db
    from messaging import announcements
    from messaging.models import Announcement

    regions = sorted({r for _b, r in branches})
    districts = [orgs.ensure_branch(r, "") for r in regions]
    times = []
    now = datetime.now(UTC)
    for i in range(count):
        kind = rng.random()
        if kind < 0.1:
            audience = {"audience": "all"}
        elif kind < 0.2:
            audience = {"audience": "region", "audience_region": rng.choice(regions)}
        elif kind < 0.5:
            audience = {"audience": "org", "audience_org_id": rng.choice(districts)}
        else:
            audience = {"audience": "org", "audience_org_id": rng.choice(branches)[0]}
        data = {"title": f"通知 {i}", "body": f"第 {i} 号通知\n\n**请周知**", **audience}
        started = time.perf_counter()
        a = announcements.create(Admin, data)
        times.append((time.perf_counter() - started) * 1000)
        # spread over the last 60 days (the create() above is what is timed)
        a_row = db.session.get(Announcement, a.id)
        a_row.publish_at = now - timedelta(minutes=rng.randrange(60 * 24 * 60))
    db.session.commit()
    return times


def seed_reads(count: int, members: int, announcements: int, rng) -> float:
    started = time.perf_counter()
    now = datetime.now(UTC)
    seen = set()

    def rows():
        while len(seen) < count:
            pair = (rng.randrange(1, members + 1), rng.randrange(1, announcements + 1))
            if pair in seen:
                continue
            seen.add(pair)
            yield (*pair, now)

    copy_rows("announcement_reads", "member_id, announcement_id, read_at", rows())
    from sqlalchemy import text

    from marketplace.extensions import db

    db.session.execute(text("ANALYZE announcement_reads; ANALYZE announcements"))
    db.session.commit()
    return time.perf_counter() - started


def measure_inbox(samples: int, members: int, rng) -> tuple[list[float], list[float], list[int]]:
    from marketplace.auth.tokens import Principal
    from marketplace.extensions import db
    from messaging import announcements

    inbox_ms, unread_ms, totals = [], [], []
    for _ in range(samples):
        p = Principal(account_id=0, role="member", member_id=rng.randrange(1, members + 1),
                      card_active=True)  # fmt: skip
        started = time.perf_counter()
        page = announcements.inbox(p, 1, 20)
        inbox_ms.append((time.perf_counter() - started) * 1000)
        totals.append(page.total)
        started = time.perf_counter()
        announcements.unread_count(p)
        unread_ms.append((time.perf_counter() - started) * 1000)
        db.session.rollback()  # a request's session ends
    return inbox_ms, unread_ms, totals


def baseline_fanout() -> float:
    """One row per recipient for one announcement to everyone: what O(1) publishing avoids."""
    from sqlalchemy import text

    from marketplace.extensions import db

    db.session.execute(text(
        "CREATE UNLOGGED TABLE fanout (member_id bigint, announcement_id bigint, "
        "PRIMARY KEY (member_id, announcement_id))"))  # fmt: skip
    db.session.commit()
    started = time.perf_counter()
    db.session.execute(text("INSERT INTO fanout SELECT id, 1 FROM members"))
    db.session.commit()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2_000_000)
    parser.add_argument("--announcements", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=2_000_000)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="keep the data an earlier run seeded; measure the inbox and one publish again",
    )
    parser.add_argument("--database", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/wt_msg"))  # fmt: skip
    args = parser.parse_args()
    rng = random.Random(16)
    app = make_app(args.database, fresh=not args.measure_only)
    result: dict = {"date": date.today().isoformat(), "args": vars(args),
                    "loadavg_start": os.getloadavg()}  # fmt: skip
    with app.app_context():
        from marketplace.extensions import db

        if args.measure_only:
            return measure_again(args, rng, result)
        db.create_all()
        started = time.perf_counter()
        branches = seed_tree()
        result["seed_tree_s"] = round(time.perf_counter() - started, 2)
        result["branches"] = len(branches)
        print(f"tree: {len(branches)} branches in {result['seed_tree_s']} s", flush=True)
        result["seed_members_s"] = round(seed_members(args.members, branches), 1)
        print(f"members: {args.members:,} by COPY in {result['seed_members_s']} s", flush=True)
        publish_ms = publish_all(args.announcements, branches, rng)
        result["publish"] = summary(publish_ms)
        print(f"publish x{args.announcements}: {result['publish']}", flush=True)
        result["seed_reads_s"] = round(
            seed_reads(args.reads, args.members, args.announcements, rng), 1
        )
        print(f"read markers: {args.reads:,} by COPY in {result['seed_reads_s']} s", flush=True)
        started = time.perf_counter()
        from messaging import announcements

        announcements.create(Admin, {"title": "全市通知", "body": "致全体会员", "audience": "all"})
        result["publish_to_everyone_ms"] = round((time.perf_counter() - started) * 1000, 2)
        print(f"one announcement to all {args.members:,}: "
              f"{result['publish_to_everyone_ms']} ms", flush=True)  # fmt: skip
        measure_inbox(50, args.members, rng)  # warm the caches and the connection pool
        inbox_ms, unread_ms, totals = measure_inbox(args.samples, args.members, rng)
        result["inbox"] = summary(inbox_ms)
        result["unread"] = summary(unread_ms)
        result["inbox_size"] = {"median": statistics.median(totals), "max": max(totals)}
        print(f"inbox page (20 of median {result['inbox_size']['median']} announcements): "
              f"{result['inbox']}", flush=True)  # fmt: skip
        print(f"unread count: {result['unread']}", flush=True)
        if not args.no_baseline:
            fan = baseline_fanout()
            result["baseline_fanout_s"] = round(fan, 2)
            result["fanout_over_publish"] = round(fan * 1000 / result["publish_to_everyone_ms"])
            print(f"baseline, one row per recipient: {fan:.2f} s "
                  f"({result['fanout_over_publish']:,}x the O(1) publish)", flush=True)  # fmt: skip
        result["loadavg_end"] = os.getloadavg()
    return write(result, "")


def write(result: dict, suffix: str) -> int:
    out = ROOT / "bench" / f"results-inbox-{date.today().isoformat()}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


def measure_again(args, rng, result: dict) -> int:
    """The measurements alone, on the members and announcements of an earlier run."""
    from marketplace.extensions import db
    from marketplace.members.models import Member
    from messaging import announcements

    members = db.session.scalar(db.select(db.func.count()).select_from(Member))
    result["members_present"] = members
    started = time.perf_counter()
    announcements.create(Admin, {"title": "全市通知", "body": "致全体会员", "audience": "all"})
    result["publish_to_everyone_ms"] = round((time.perf_counter() - started) * 1000, 2)
    measure_inbox(50, members, rng)
    inbox_ms, unread_ms, totals = measure_inbox(args.samples, members, rng)
    result["inbox"] = summary(inbox_ms)
    result["unread"] = summary(unread_ms)
    result["inbox_size"] = {"median": statistics.median(totals), "max": max(totals)}
    result["loadavg_end"] = os.getloadavg()
    print(f"members present: {members:,}; publish to all: {result['publish_to_everyone_ms']} ms")
    print(f"inbox page: {result['inbox']}\nunread count: {result['unread']}", flush=True)
    return write(result, "-measure")


if __name__ == "__main__":
    sys.exit(main())
