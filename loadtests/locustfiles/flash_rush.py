"""Members with pre-issued tokens pile onto one sale at its start.

Each simulated member presses the button with a fresh ``Idempotency-Key`` and, on a timeout or
a 5xx, retries with the SAME key (as the real app does), so a retry can never win twice.
``sold_out`` and ``limit_reached`` are expected outcomes, counted separately, not failures.

    locust -f loadtests/locustfiles/flash_rush.py --data-dir loadtest-results/current ...
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

import loadtests.common.options  # noqa: F401  (registers --data-dir etc.)
from loadtests.common.data import TokenPool, read_sale
from loadtests.common.outcomes import EXPECTED_REFUSALS, Outcomes

STATE: dict = {}


@events.test_start.add_listener
def _load(environment, **_kw):
    data_dir = Path(environment.parsed_options.data_dir)
    STATE["dir"] = data_dir
    STATE["sale"] = read_sale(data_dir)
    STATE["members"] = TokenPool.from_csv(data_dir / "tokens.csv")
    STATE["outcomes"] = Outcomes()


@events.test_stop.add_listener
def _save(environment, **_kw):
    if "outcomes" in STATE:
        STATE["outcomes"].write(STATE["dir"])
        counts = dict(STATE["outcomes"].counts)
        print(f"claim outcomes: {counts}")


class RushingMember(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self):
        sale = STATE["sale"]
        # Everyone is on the sale page before it opens and presses at the opening second.
        delay = sale.get("starts_at_epoch", 0) - time.time()
        if delay > 0:
            gevent.sleep(delay)

    @task
    def snap_up(self):
        member = STATE["members"].take()
        if member is None:
            raise StopUser()  # every prepared member has had their go
        card_no, token = member
        STATE["outcomes"].member_started()
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(max(1, self.environment.parsed_options.presses)):
            outcome = self.press(headers)
            if outcome in {"sold_out", "limit_reached"}:
                break

    def press(self, headers: dict) -> str:
        sale = STATE["sale"]
        key = uuid.uuid4().hex
        url = f"/api/v1/flashsales/{sale['campaign_id']}/claims"
        outcome = "error"
        for _attempt in range(1 + self.environment.parsed_options.retries):
            with self.client.post(
                url,
                headers={**headers, "Idempotency-Key": key},
                name="/api/v1/flashsales/[id]/claims",
                catch_response=True,
            ) as resp:
                outcome = classify(resp)
                if outcome == "created":
                    code = (resp.json().get("voucher") or {}).get("code")
                    if not code:
                        resp.failure("201 without a voucher code")
                        outcome = "error"
                    else:
                        resp.success()
                    STATE["outcomes"].add(outcome, time.time(), code)
                    return outcome
                if outcome in EXPECTED_REFUSALS:
                    resp.success()
                    STATE["outcomes"].add(outcome, time.time())
                    return outcome
                if outcome == "retry":
                    resp.failure(f"retryable: {resp.status_code}")
                    continue
                resp.failure(f"unexpected {resp.status_code}: {(resp.text or '')[:200]}")
                STATE["outcomes"].add("error", time.time())
                return "error"
        STATE["outcomes"].add("gave_up", time.time())
        return outcome


def classify(resp) -> str:
    """Map a claim response to an outcome name."""
    if resp.status_code == 201:
        return "created"
    if resp.status_code == 0 or resp.status_code >= 500:
        return "retry"  # timeout, reset, or a server error: same key again
    if resp.headers.get("Content-Type", "").startswith("application/problem+json"):
        try:
            return resp.json().get("code", "error")
        except ValueError:
            return "error"
    return "error"
