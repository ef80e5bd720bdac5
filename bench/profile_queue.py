"""Where the waiting room's status call spends its time: ``GET /api/v1/flashsales/<id>/queue/me``
in one process, under cProfile, by component, next to the bare ``GET /healthz`` (issue #14).

    python bench/profile_queue.py [--requests 5000] [--out bench/results/profile-queue.json]

Same method as bench/profile_claim.py (whose helpers it uses): SQLite and a bundled Valkey, the
WSGI app called directly (no sockets, no gunicorn), a different member token per request; every
member joined the room of one queue-mode sale before its start and the room admits one member a
second, so nearly every answer is ``waiting`` (the common case of a big sale). Prints the wall
time per request without the profiler, then the cumulative µs per request of each component.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import profile_claim as pc  # noqa: E402
from inventory.server import EmbeddedRedis  # noqa: E402

ROOM_COMPONENTS = [
    ("    room.fast_status (snapshot)", "flashsale/room.py", "fast_status"),
    ("      ticket check (HMAC)", "flashsale/room.py", "ticket_place"),
    ("    room.status (one room.lua call)", "flashsale/room.py", "status"),
    ("      Redis round trip (EVALSHA)", "redis/commands/core.py", "evalsha"),
    ("      room keys", "flashsale/room.py", "room_keys"),
    ("    body (room.as_json)", "flashsale/room.py", "as_json"),
    ("      json.dumps", "json/__init__.py", "dumps"),
    ("    Response()", "werkzeug/wrappers/response.py", "__init__"),
    ("    smorest response wrapper", "flask_smorest/response.py", "wrapper"),
]


def build(work: Path, members: int, starts_in: int = 8):
    os.environ.update(DATABASE_URL=f"sqlite:///{work}/profile.db", SHIHUI_INSTANCE=str(work),
                      SECRET_KEY="bench-secret-" + "x" * 40, LOG_LEVEL="WARNING")  # fmt: skip
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from flask_migrate import upgrade

    from flashsale import room
    from flashsale.hotpath import write_meta
    from flashsale.models import Campaign
    from loadtests.prepare import prepare_sale
    from marketplace.auth import revocations
    from marketplace.extensions import db
    from marketplace.members.models import Member
    from shihui import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        revocations.ensure()
        sale = prepare_sale(members, 100_000, 1, starts_in, work / "sale", clerks=0)
        campaign = db.session.get(Campaign, sale["campaign_id"])
        campaign.mode, campaign.admission_rate = "queue", 1.0
        db.session.commit()
        write_meta(campaign)
        room.configure(campaign)
        for member_id in db.session.scalars(db.select(Member.id)):
            room.join(campaign.id, member_id)
        time.sleep(max(0.0, sale["starts_at_epoch"] - time.time() + 0.5))
    with (work / "sale" / "tokens.csv").open() as fh:
        tokens = [line.split(",")[1].strip() for line in fh.readlines()[1:]]
    from marketplace.auth.tokens import decode_token

    with app.app_context():
        tickets = []
        for token in tokens:
            member = decode_token(token).member_id
            place = room.status(sale["campaign_id"], member).place
            tickets.append(room.place_ticket(sale["campaign_id"], member, place))
    return app, sale["campaign_id"], tokens, tickets


def gets(app, path: str, tokens: list[str], n: int, tickets=None) -> list[dict]:
    from flask.testing import EnvironBuilder

    out = []
    for i in range(n):
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
        if tickets:
            headers["Queue-Place"] = tickets[i % len(tickets)]
        builder = EnvironBuilder(app, path=path, method="GET", headers=headers)
        out.append(builder.get_environ())
        builder.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "profile-queue.json"))
    args = parser.parse_args()
    pc.COMPONENTS[:] = [c for c in pc.COMPONENTS if "claim" not in c[0] and "renewal" not in c[0]]
    at = next(i for i, c in enumerate(pc.COMPONENTS) if c[2] == "is_revoked") + 1
    pc.COMPONENTS[at:at] = ROOM_COMPONENTS
    work = Path(tempfile.mkdtemp(prefix="shihui-profile-queue-"))
    server = EmbeddedRedis(work / "redis").start()
    os.environ["REDIS_URL"] = server.url
    try:
        app, sale, tokens, tickets = build(work, args.requests)
        path = f"/api/v1/flashsales/{sale}/queue/me"
        results = {
            "queue status (200)": pc.profile(
                app, lambda n, tag: gets(app, path, tokens, n), "200", args.requests
            ),
            "queue status, place ticket sent (200)": pc.profile(
                app, lambda n, tag: gets(app, path, tokens, n, tickets), "200", args.requests
            ),
            "bare GET /healthz (200)": pc.profile(
                app, lambda n, tag: pc.bare(app, n), "200", args.requests
            ),
        }
    finally:
        server.stop()
    for name, r in results.items():
        print(f"\n{name}: {r['wall_us_per_request']:.0f} µs per request without the profiler")
        print(f"{'component (cumulative, under cProfile)':<44} {'µs/request':>10}")
        for row in r["components"]:
            if row["us_per_request"]:
                print(f"{row['component']:<44} {row['us_per_request']:>10.1f}")
        print("top own time:", ", ".join(f"{t['function']} {t['own_us']}" for t in r["top"][:10]))
    q, t, b = (results[k]["wall_us_per_request"] for k in results)
    print(f"\nwall time ratios (what a CPU-bound server would show): bare/queue {b / q:.2f}, "
          f"bare/queue with ticket {b / t:.2f}")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"results": results, "args": vars(args),
                                          "loadavg": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
