"""Members browsing: the sale list, a sale's detail and the member pages around a sale."""

from __future__ import annotations

import random
from pathlib import Path

from locust import FastHttpUser, between, events, task

import loadtests.common.options  # noqa: F401  (registers --data-dir etc.)
from loadtests.common.data import TokenPool, read_sale

STATE: dict = {}


@events.test_start.add_listener
def _load(environment, **_kw):
    data_dir = Path(environment.parsed_options.data_dir)
    STATE["sale"] = read_sale(data_dir)
    STATE["members"] = TokenPool.from_csv(data_dir / "tokens.csv")


class BrowsingMember(FastHttpUser):
    wait_time = between(0.5, 2)

    def on_start(self):
        _card, token = STATE["members"].cycle(random.randrange(1 << 30))
        self.headers = {"Authorization": f"Bearer {token}"}

    @task(3)
    def sale_list(self):
        with self.client.get("/api/v1/flashsales", headers=self.headers, catch_response=True,
                             name="/api/v1/flashsales") as resp:  # fmt: skip
            if resp.status_code != 200 or "items" not in (resp.json() or {}):
                resp.failure(f"sale list: {resp.status_code}")

    @task(2)
    def sale_detail(self):
        sale_id = STATE["sale"]["campaign_id"]
        url = f"/api/v1/flashsales/{sale_id}"
        name = "/api/v1/flashsales/[id]"
        with self.client.get(url, headers=self.headers, name=name, catch_response=True) as resp:
            body = resp.json() if resp.status_code == 200 else {}
            if resp.status_code != 200 or body.get("id") != sale_id:
                resp.failure(f"sale detail: {resp.status_code}")

    @task(1)
    def my_vouchers(self):
        with self.client.get("/api/v1/me/vouchers", headers=self.headers, catch_response=True,
                             name="/api/v1/me/vouchers") as resp:  # fmt: skip
            if resp.status_code != 200:
                resp.failure(f"my vouchers: {resp.status_code}")
