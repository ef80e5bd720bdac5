"""Where a claim's time goes: the claim endpoint in one process, under cProfile, by component.

    python bench/profile_claim.py [--requests 5000] [--out bench/results/profile-claim.json]
    FASTLANE=0 python bench/profile_claim.py ...     # every request through Flask

Builds the app on SQLite and a bundled Valkey, prepares a sale with as many members as
requests (a fresh token and Idempotency-Key per request, as in bench/http_bench.py) and a sold-out
sale, then calls the WSGI app directly (no sockets, no gunicorn) for each request:

1. without the profiler: wall time per request (the figure to compare before/after);
2. under cProfile: the cumulative time of each component of the path, per request, in
   microseconds (a profiler inflates Python-heavy parts more than C calls and the Redis round
   trip, so the shares, not the sums, are what to read).

The components are the functions listed in ``COMPONENTS`` (module, function name). Prints the
table for the claim (201), the sold-out refusal (409), the bare ``GET /healthz`` (the floor every
request pays) and a token renewal (200, each spending a fresh refresh token), and writes a JSON
file.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory.server import EmbeddedRedis  # noqa: E402

# (label, file suffix, function name): cumulative time of every function that matches.
COMPONENTS = [
    ("whole request in the fast lane", "marketplace/fastlane.py", "__call__"),
    ("  lane: app context push/pop, token, handler", "marketplace/fastlane.py", "_serve"),
    ("  lane: headers (request id, security)", "marketplace/security.py", "finish_headers"),
    ("  lane: claim handler", "flashsale/routes_member.py", "fast_claim"),
    ("whole request (Flask.wsgi_app)", "flask/app.py", "wsgi_app"),
    ("  request context push/pop", "flask/ctx.py", "push"),
    ("  request context pop", "flask/ctx.py", "pop"),
    ("  before_request hooks", "flask/app.py", "preprocess_request"),
    ("    request id + timer", "marketplace/observability.py", "_start"),
    ("    input guard", "marketplace/validation.py", "guard_request"),
    ("  URL routing", "flask/ctx.py", "match_request"),
    ("  view (dispatch_request)", "flask/app.py", "dispatch_request"),
    ("    token check (verify_token)", "marketplace/auth/tokens.py", "verify_token"),
    ("      signature + decode", "marketplace/auth/tokens.py", "decode_token"),
    ("      revocation (version)", "marketplace/auth/tokens.py", "is_revoked"),
    ("    claim() service", "flashsale/claims.py", "claim"),
    ("      campaign metadata", "flashsale/hotpath.py", "campaign_meta"),
    ("      engine ready check", "flashsale/recovery.py", "engine_ready"),
    ("      budget settings", "flashsale/hotpath.py", "claim_budget"),
    ("      voucher code", "marketplace/vouchercodes.py", "new_voucher_code"),
    ("      engine call (reserve)", "inventory/engine.py", "reserve"),
    ("        Redis round trip (EVALSHA)", "redis/commands/core.py", "evalsha"),
    ("      outcome counter", "prometheus_client/metrics.py", "inc"),
    ("    request body (webargs)", "webargs/core.py", "parse"),
    ("    renewal service", "marketplace/auth/refresh.py", "renew"),
    ("      refresh token check", "marketplace/auth/refresh.py", "_decode"),
    ("      rotation (Lua)", "redis/commands/core.py", "__call__"),
    ("      access token signing", "marketplace/auth/tokens.py", "token_body"),
    ("      refresh token signing", "marketplace/auth/refresh.py", "_sign"),
    ("    response: schema dump", "marshmallow/schema.py", "dump"),
    ("    response: JSON", "flask/json/__init__.py", "jsonify"),
    ("  error handler (problem+json)", "flask/app.py", "handle_user_exception"),
    ("  make_response", "flask/app.py", "make_response"),
    ("  after_request hooks", "flask/app.py", "process_response"),
    ("    metrics + request id", "marketplace/observability.py", "_finish"),
    ("    security headers", "marketplace/security.py", "_security_headers"),
    ("  teardown (session remove)", "flask/app.py", "do_teardown_request"),
]


def build(work: Path, members: int):
    os.environ.update(DATABASE_URL=f"sqlite:///{work}/profile.db", SHIHUI_INSTANCE=str(work),
                      SECRET_KEY="bench-secret-" + "x" * 40, LOG_LEVEL="WARNING")  # fmt: skip
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from flask_migrate import upgrade

    from loadtests.prepare import prepare_sale
    from marketplace.auth import revocations
    from shihui import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        revocations.ensure()  # as `shihui prepare` does: tokens are checked against the feed
        sale = prepare_sale(members, 10**9, 10**6, 0, work / "main", clerks=0)
        soldout = prepare_sale(1, 1, 1, 0, work / "soldout", clerks=0)
    with (work / "main" / "tokens.csv").open() as fh:
        tokens = [row["token"] for row in csv.DictReader(fh)]
    return app, sale["campaign_id"], soldout["campaign_id"], tokens


def environs(app, path: str, tokens: list[str], n: int, tag: str) -> list[dict]:
    from flask.testing import EnvironBuilder

    out = []
    for i in range(n):
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}",
                   "Idempotency-Key": f"prof-{tag}-{i:08d}"}  # fmt: skip
        builder = EnvironBuilder(app, path=path, method="POST", headers=headers)
        out.append(builder.get_environ())
        builder.close()
    return out


def bare(app, n: int) -> list[dict]:
    """The floor: GET /healthz, which every hook still runs for."""
    from flask.testing import EnvironBuilder

    builder = EnvironBuilder(app, path="/healthz", method="GET")
    environ = builder.get_environ()
    builder.close()
    return [environ] * n


def renewals(app, refresh_tokens: list[str], n: int) -> list[dict]:
    """Renewals: each spends a refresh token nobody spent yet."""
    from flask.testing import EnvironBuilder

    out = []
    for _ in range(n):
        builder = EnvironBuilder(app, path="/api/v1/auth/refresh", method="POST",
                                 json={"refresh_token": refresh_tokens.pop()})  # fmt: skip
        out.append(builder.get_environ())
        builder.close()
    return out


def refresh_tokens(app, access_tokens: list[str], n: int) -> list[str]:
    """``n`` refresh tokens, one family each, for the members of ``access_tokens``."""
    from marketplace.auth.refresh import start_family
    from marketplace.auth.tokens import decode_token

    with app.app_context():
        return [start_family(decode_token(access_tokens[i % len(access_tokens)]))["refresh_token"]
                for i in range(n)]  # fmt: skip


def run(app, envs: list[dict], expect: str | None) -> float:
    """Calls the app for each environ; returns wall seconds."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    t0 = time.perf_counter()
    for env in envs:
        for _ in app(dict(env), start_response):
            pass
    elapsed = time.perf_counter() - t0
    wrong = [s for s in statuses if expect and not s.startswith(expect)]
    assert not wrong, f"expected {expect}, got {wrong[:3]}"
    return elapsed


def component_table(stats: pstats.Stats, n: int) -> list[dict]:
    rows = []
    for label, suffix, func in COMPONENTS:
        total = sum(
            ct
            for (filename, _, name), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
            if name == func and filename.endswith(suffix)
        )
        rows.append({"component": label, "us_per_request": round(total * 1e6 / n, 1)})
    return rows


def profile(app, make_envs, expect: str, n: int) -> dict:
    run(app, make_envs(n // 5, "warm"), None)  # warm caches, scripts, connections
    wall = run(app, make_envs(n, "wall"), expect) * 1e6 / n
    envs = make_envs(n, "prof")
    prof = cProfile.Profile()
    prof.enable()
    run(app, envs, expect)
    prof.disable()
    stats = pstats.Stats(prof)
    return {"wall_us_per_request": round(wall, 1), "components": component_table(stats, n),
            "top": top_functions(stats, n)}  # fmt: skip


def top_functions(stats: pstats.Stats, n: int, limit: int = 25) -> list[dict]:
    items = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:limit]  # type: ignore[attr-defined]
    return [{"function": f"{Path(f).name}:{line}({name})", "own_us": round(tt * 1e6 / n, 1)}
            for (f, line, name), (_, _, tt, _, _) in items]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "profile-claim.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shihui-profile-"))
    server = EmbeddedRedis(work / "redis").start()
    os.environ["REDIS_URL"] = server.url
    try:
        app, sale, soldout, tokens = build(work, args.requests)
        results = {
            "claim (201)": profile(
                app,
                lambda n, tag: environs(app, f"/api/v1/flashsales/{sale}/claims", tokens, n, tag),
                "201",
                args.requests,
            ),  # fmt: skip
            "sold out (409)": profile(
                app,
                lambda n, tag: environs(
                    app, f"/api/v1/flashsales/{soldout}/claims", tokens, n, tag
                ),
                "409",
                args.requests,
            ),  # fmt: skip
        }
        results["bare GET /healthz (200)"] = profile(app, lambda n, tag: bare(app, n), "200",
                                                     args.requests)  # fmt: skip
        spare = refresh_tokens(app, tokens, args.requests * 2 + args.requests // 5)
        results["token renewal (200)"] = profile(
            app, lambda n, tag: renewals(app, spare, n), "200", args.requests
        )
    finally:
        server.stop()
    for name, r in results.items():
        print(f"\n{name}: {r['wall_us_per_request']:.0f} µs per request without the profiler")
        print(f"{'component (cumulative, under cProfile)':<44} {'µs/request':>10}")
        for row in r["components"]:
            if row["us_per_request"]:
                print(f"{row['component']:<44} {row['us_per_request']:>10.1f}")
        print("top own time:", ", ".join(f"{t['function']} {t['own_us']}" for t in r["top"][:8]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"results": results, "args": vars(args),
                                          "loadavg": os.getloadavg()}, indent=2))  # fmt: skip
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
