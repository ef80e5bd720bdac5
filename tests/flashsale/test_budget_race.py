"""One member budget for the whole deployment: 4 gunicorn workers, 8 client processes."""

from __future__ import annotations

import http.client
import multiprocessing
import time
from collections import Counter
from urllib.parse import urlparse

from tests.conftest import gunicorn_server

from .factories import bearer, create_sale, make_members, make_merchant

RATE, BURST, SECONDS = 2, 3, 3.0


def hammer(base: str, sale: int, token: str, who: int, barrier, out) -> None:
    """Claim as fast as possible for SECONDS, a new connection per request (so the requests
    spread over the gunicorn workers instead of sticking to one); put (start, end, statuses)."""
    url = urlparse(base)
    barrier.wait()
    start = time.time()
    statuses, n = [], 0
    while time.time() - start < SECONDS:
        n += 1
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request(
            "POST",
            f"/api/v1/flashsales/{sale}/claims",
            headers={**bearer(token), "Idempotency-Key": f"hammer-{who}-{n:05d}"},
        )
        resp = conn.getresponse()
        resp.read()
        statuses.append((resp.status, resp.getheader("Retry-After")))
        conn.close()
    out.put((start, time.time(), statuses))


def test_member_budget_holds_across_four_web_processes(app_ctx, client, app_config):
    """The budget lives in the sale's pool hash: 4 processes give a member no more than one."""
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, total_stock=100, per_member_limit=1)
    env = {"FLASHSALE_CLAIM_RATE": str(RATE), "FLASHSALE_CLAIM_BURST": str(BURST)}
    with gunicorn_server(app_config, threads=2, workers=4, **env) as base:
        ctx = multiprocessing.get_context("fork")
        barrier, out = ctx.Barrier(8), ctx.Queue()
        procs = [
            ctx.Process(target=hammer, args=(base, sale, token, i, barrier, out)) for i in range(8)
        ]
        for p in procs:
            p.start()
        runs = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(10)
    statuses = Counter(s for _, _, run in runs for s, _ in run)
    span = max(end for _, end, _ in runs) - min(start for start, _, _ in runs)
    answered = sum(n for s, n in statuses.items() if s != 429)
    print(f"budget race: {dict(statuses)} in {span:.2f} s, bound {BURST + RATE * span:.1f}")
    assert statuses[429] > 10 * answered, statuses  # the clients really did hammer
    assert BURST <= answered <= BURST + RATE * span, (statuses, span)
    assert statuses[201] == 1 and set(statuses) == {201, 409, 429}, statuses
    retry_after = {int(ra) for _, _, run in runs for s, ra in run if s == 429}
    assert retry_after and retry_after <= {1}  # 2/s: the next unit is at most 0.5 s away


def test_over_budget_retry_of_a_won_claim_gets_its_voucher(app, app_ctx, client, claim):
    app.config.update(FLASHSALE_CLAIM_RATE=0.05, FLASHSALE_CLAIM_BURST=1)
    _, owner = make_merchant()
    ((_, token),) = make_members(1)
    sale = create_sale(client, owner, per_member_limit=1)
    won = claim(sale, token, key="budget-won-1")
    assert won.status_code == 201
    refused = claim(sale, token, key="budget-new-2")
    assert (refused.status_code, refused.get_json()["code"]) == (429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    again = claim(sale, token, key="budget-won-1")
    assert again.status_code == 201
    assert again.get_json()["voucher"]["code"] == won.get_json()["voucher"]["code"]
