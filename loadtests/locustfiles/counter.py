"""Clerks at the counter redeeming vouchers that a rush handed out (``codes.txt``).

``already_redeemed`` is expected when two clerks scan one code; anything else is a failure.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

import loadtests.common.options  # noqa: F401  (registers --data-dir etc.)
from loadtests.common.data import TokenPool, read_codes

STATE: dict = {}


@events.test_start.add_listener
def _load(environment, **_kw):
    data_dir = Path(environment.parsed_options.data_dir)
    STATE["clerks"] = TokenPool.from_csv(data_dir / "clerks.csv")
    STATE["codes"] = read_codes(data_dir)
    STATE["next"] = itertools.count()
    STATE["lock"] = threading.Lock()


class CounterClerk(FastHttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        _name, token = STATE["clerks"].cycle(id(self))
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def redeem(self):
        with STATE["lock"]:
            index = next(STATE["next"])
        if index >= len(STATE["codes"]):
            raise StopUser()
        code = STATE["codes"][index]
        headers = {**self.headers, "Idempotency-Key": uuid.uuid4().hex}
        with self.client.post("/api/v1/merchant/redemptions", json={"code": code},
                              headers=headers, name="/api/v1/merchant/redemptions",
                              catch_response=True) as resp:  # fmt: skip
            if redeemed_or_already(resp):
                resp.success()
            else:
                resp.failure(f"redeem {resp.status_code}: {(resp.text or '')[:200]}")


def redeemed_or_already(resp) -> bool:
    """200 with the voucher now redeemed, or 409 ``already_redeemed`` (two clerks, one code)."""
    try:
        body = resp.json()
    except ValueError:
        return False
    if resp.status_code == 200:
        return (body.get("voucher") or {}).get("status") == "redeemed"
    return resp.status_code == 409 and body.get("code") == "already_redeemed"
