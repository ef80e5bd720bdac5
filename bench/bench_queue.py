"""The waiting room's status call (issue #14, item 2) against a bare GET, in one run.

    python bench/bench_queue.py [--rounds 3] [--duration 10] [--connections 64] [--members 2000]

Serves the platform with gunicorn (gthread, 2 workers, 4 threads: the production settings) on the
bundled Valkey and SQLite, and loads it with wrk (a different member token per request; every
member has joined the room of one queue-mode sale before its start, and the room admits one
member a second, so nearly everyone is ``waiting``: the common case of a big sale). Prints per
phase the median over the rounds of requests/s, p50/p99 and the web processes' CPU ms per
request, with the ratio to ``bare`` measured in the same run:

- ``bare``    GET /healthz, the framework's floor (no token, no Redis)
- ``queue``   GET /api/v1/flashsales/<id>/queue/me (token check, one room.lua call, JSON)
- ``ticket``  the same call from a client that sends back its place ticket (``Queue-Place``), as
              the member page and any client following the API do after the first answer: a
              waiting member is answered from the process's snapshot of the room (no Redis call)
- ``sale``    GET /api/v1/flashsales/<id> (the micro-cached sale, for comparison)

Writes bench/results-queue-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_bench import DEFAULT_THREADS, Server, measured_wrk, wrk  # noqa: E402
from inventory.server import EmbeddedRedis  # noqa: E402

STARTS_IN = 20  # seconds: everyone joins before the start, so places are drawn at random


def prepare(work: Path, members: int) -> tuple[int, Path]:
    """One queue-mode sale whose ``members`` members all joined its room before the start."""
    from flashsale import room
    from flashsale.hotpath import write_meta
    from flashsale.models import Campaign
    from loadtests.prepare import prepare_sale
    from marketplace.extensions import db
    from marketplace.members.models import Member
    from shihui import create_app

    app = create_app()
    with app.app_context():
        sale = prepare_sale(members, 100_000, 1, STARTS_IN, work / "sale", clerks=0)
        campaign = db.session.get(Campaign, sale["campaign_id"])
        campaign.mode, campaign.admission_rate = "queue", 1.0
        db.session.commit()
        write_meta(campaign)
        room.configure(campaign)
        for member_id in db.session.scalars(db.select(Member.id)):
            assert room.join(campaign.id, member_id).state == "waiting"
        wait = sale["starts_at_epoch"] - time.time()
        print(f"{members} members joined; the sale starts in {wait:.1f} s", flush=True)
        time.sleep(max(0.0, wait + 0.5))
        probe = room.status(campaign.id, member_id)
        print(f"after the start, the last joiner: {probe}", flush=True)
        tokens = work / "sale" / "tokens.csv"
        with_tickets = work / "sale" / "tickets.csv"
        from marketplace.auth.tokens import decode_token

        lines = ["card_no,token,place_ticket"]
        for line in tokens.read_text().splitlines()[1:]:
            card, token = line.split(",")[:2]
            member = decode_token(token).member_id
            place = room.status(campaign.id, member).place
            lines.append(f"{card},{token},{room.place_ticket(campaign.id, member, place)}")
        with_tickets.write_text("\n".join(lines) + "\n")
    return sale["campaign_id"], tokens, with_tickets


def phase(env, path, wargs, args) -> dict:
    with Server("shihui.wsgi:app", env, "gthread", 2, DEFAULT_THREADS) as srv:
        script = "get.lua" if path == "/healthz" else "get_auth.lua"
        if wargs and wargs[0].endswith("tickets.csv"):
            script = "get_queue.lua"
        wrk(srv.url(path), script, wargs, 2, args.connections)  # warm-up (imports, pools)
        return measured_wrk(srv, path, script, wargs, args.duration, args.connections)


def main() -> int:
    parser = argparse.ArgumentParser(description="waiting-room status against a bare GET")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "bench" / f"results-queue-{date.today()}.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shihui-queue-bench-"))
    server = EmbeddedRedis(work / "redis").start()
    env = dict(os.environ, REDIS_URL=server.url, SHIHUI_INSTANCE=str(work),
               SECRET_KEY="bench-secret-" + "x" * 40, DATABASE_URL=f"sqlite:///{work}/bench.db",
               PYTHONPATH=str(ROOT))  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    os.environ.update({k: env[k] for k in ("REDIS_URL", "SHIHUI_INSTANCE", "SECRET_KEY",
                                           "DATABASE_URL")})  # fmt: skip
    try:
        subprocess.run([sys.executable, "-m", "shihui", "prepare", "--no-demo"], env=env,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
        sale, tokens, tickets = prepare(work, args.members)
        phases = {
            "bare": ("/healthz", []),
            "queue": (f"/api/v1/flashsales/{sale}/queue/me", [str(tokens)]),
            "ticket": (f"/api/v1/flashsales/{sale}/queue/me", [str(tickets)]),
            "sale": (f"/api/v1/flashsales/{sale}", [str(tokens)]),
        }
        results: dict[str, list[dict]] = {}
        for rnd in range(args.rounds):
            for name, (path, wargs) in phases.items():
                results.setdefault(name, []).append(phase(env, path, wargs, args))
                r = results[name][-1]
                print(f"round {rnd + 1} {name}: {r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
                      f"p99 {r['p99_ms']:.1f} ms, web CPU {r['web_cpu_ms']:.2f} ms/req, "
                      f"statuses {r['statuses']}, errors {r['errors']}", flush=True)  # fmt: skip
        med = {
            name: {key: statistics.median(r[key] for r in rs)
                   for key in ("rps", "p50_ms", "p99_ms", "web_cpu_ms")}
            for name, rs in results.items()
        }  # fmt: skip
        ratios = [q["rps"] / b["rps"] for q, b in zip(results["queue"], results["bare"],
                                                       strict=True)]  # fmt: skip
        ticket_ratios = [q["rps"] / b["rps"] for q, b in zip(results["ticket"], results["bare"],
                                                              strict=True)]  # fmt: skip
        load = os.getloadavg()
        print(f"\nmedians of {args.rounds} rounds, {args.connections} connections, "
              f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}:")  # fmt: skip
        for name, m in med.items():
            print(f"  {name:6} {m['rps']:8,.0f} req/s  p50 {m['p50_ms']:6.1f} ms  "
                  f"p99 {m['p99_ms']:7.1f} ms  web CPU {m['web_cpu_ms']:6.2f} ms/req  "
                  f"{m['rps'] / med['bare']['rps']:.2f} of bare")  # fmt: skip
        print(f"queue/bare per round: {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(median {statistics.median(ratios):.2f}; target >= 0.9)")  # fmt: skip
        print(f"ticket/bare per round: {', '.join(f'{r:.2f}' for r in ticket_ratios)} "
              f"(median {statistics.median(ticket_ratios):.2f})")  # fmt: skip
        Path(args.out).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg": load, "args": vars(args), "medians": med, "ratios": ratios,
            "ticket_ratios": ticket_ratios,
            "rounds": results,
        }, indent=2))  # fmt: skip
        print(f"wrote {args.out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
