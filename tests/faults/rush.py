"""The rush: members in several processes claim one sale over HTTP, each with ONE Idempotency-Key.

A member arrives at a given time, then repeats the same request on any error (connection refused
or reset, timeout, 5xx, 429, "not started") until a final answer (201, 409 sold_out /
limit_reached, 410) or the deadline. Every answer is recorded with the time it was received, so
the checks can tell which 201s came after a Redis data copy was taken.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

FINAL = {201, 409, 410}
RETRY_409 = {"not_started"}


def claim_until_final(base: str, campaign_id: int, card: str, token: str, key: str,
                      arrive_at: float, deadline: float) -> dict:  # fmt: skip
    """One member's claim, retried with the same key; returns what they saw."""
    url = urlparse(base)
    record = {"card": card, "key": key, "wins": [], "errors": Counter(), "final": None,
              "problem": None, "attempts": 0, "no_retry_after_503": 0}  # fmt: skip
    time.sleep(max(0.0, arrive_at - time.time()))
    conn = None
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    while time.time() < deadline:
        record["attempts"] += 1
        wait = 0.3 + random.random() * 0.2
        try:
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
            conn.request("POST", f"/api/v1/flashsales/{campaign_id}/claims", headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            retry_after = resp.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:
            record["errors"][f"transport:{type(exc).__name__}"] += 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(wait)
            continue
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        if status == 201:
            voucher = body.get("voucher", {})
            win = {"code": voucher.get("code"), "claim_id": body.get("claim_id"),
                   "at": time.time(), "replayed": body.get("replayed")}  # fmt: skip
            record["wins"].append(win)
        if status in FINAL and not (status == 409 and body.get("code") in RETRY_409):
            record["final"], record["problem"] = status, body.get("code")
            break
        record["errors"][f"http:{status}"] += 1
        if status == 503 and not retry_after:
            record["no_retry_after_503"] += 1
        if retry_after and retry_after.isdigit():
            wait = min(float(retry_after), 1.0) + random.random() * 0.2
        time.sleep(wait)
    if conn is not None:
        conn.close()
    return record


def _process(base, campaign_id, jobs, deadline, threads, out) -> None:
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(claim_until_final, base, campaign_id, card, token, key, arrive,
                               deadline) for card, token, key, arrive in jobs]  # fmt: skip
        out.put([f.result() for f in futures])


class Rush:
    """:meth:`start` forks the member processes (before any fault thread exists); :meth:`join`
    collects every member's record."""

    def __init__(self, base: str, campaign_id: int, jobs: list[tuple[str, str, str, float]],
                 deadline: float, processes: int = 4, threads: int = 16):  # fmt: skip
        ctx = multiprocessing.get_context("fork")
        self.out = ctx.Queue()
        self.deadline = deadline
        jobs = sorted(jobs, key=lambda j: j[3])
        self.procs = [ctx.Process(target=_process, args=(base, campaign_id, jobs[i::processes],
                                                         deadline, threads, self.out), daemon=True)
                      for i in range(processes)]  # fmt: skip

    def start(self) -> Rush:
        for p in self.procs:
            p.start()
        return self

    def join(self) -> list[dict]:
        records: list[dict] = []
        try:
            for _ in self.procs:
                records += self.out.get(timeout=max(5.0, self.deadline - time.time() + 30))
        finally:
            for p in self.procs:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join()
        return records
