"""Members wait in a sale's waiting room (``queue`` mode): every simulated member joins before
the start, polls its status as often as the server says (``poll_after_seconds``, capped by
``--max-poll``), and claims with its pass once admitted (retrying a timeout or a 5xx with the
SAME Idempotency-Key). The claim is the press: ``sold_out`` is an expected answer.

Each member's record (when it joined, when it was admitted, its place, the outcome) goes to
``room_members.json`` in the data folder; the report draws waits and the fairness test from it.

    locust -f loadtests/locustfiles/waiting_room.py --data-dir loadtest-results/current ...
"""

from __future__ import annotations

import json
import threading
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
_lock = threading.Lock()
FINAL = {"claimed", "sold_out", "closed", "expired"}


@events.test_start.add_listener
def _load(environment, **_kw):
    data_dir = Path(environment.parsed_options.data_dir)
    STATE.update(dir=data_dir, sale=read_sale(data_dir), records=[], outcomes=Outcomes(),
                 members=TokenPool.from_csv(data_dir / "tokens.csv"))  # fmt: skip


@events.test_stop.add_listener
def _save(environment, **_kw):
    if "outcomes" in STATE:
        STATE["outcomes"].write(STATE["dir"])
        with _lock:
            (STATE["dir"] / "room_members.json").write_text(json.dumps(STATE["records"]))
        print(f"claim outcomes: {dict(STATE['outcomes'].counts)}; "
              f"{len(STATE['records'])} members recorded")  # fmt: skip


class WaitingMember(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0

    @task
    def wait_in_line(self):
        member = STATE["members"].take()
        if member is None:
            raise StopUser()
        _, token = member
        sale = STATE["sale"]
        auth = {"Authorization": f"Bearer {token}"}
        base = f"/api/v1/flashsales/{sale['campaign_id']}/queue"
        record = {"joined": None, "admitted": None, "place": None, "outcome": "waiting",
                  "polls": 0}  # fmt: skip
        with _lock:
            STATE["records"].append(record)
        with self.client.post(base, headers=auth, name="/queue (join)",
                              catch_response=True) as resp:  # fmt: skip
            if resp.status_code != 200:
                resp.failure(f"join {resp.status_code}: {(resp.text or '')[:200]}")
                record["outcome"] = "join_failed"
                return
            record["joined"] = time.time()
            body = resp.json()
        max_poll = float(self.environment.parsed_options.max_poll)
        while body.get("state") not in FINAL:
            if body.get("state") == "admitted":
                if record["admitted"] is None:
                    record["admitted"], record["place"] = time.time(), body.get("place")
                record["outcome"] = self.claim(auth, body["pass"])
                return
            gevent.sleep(min(max_poll, float(body.get("poll_after_seconds") or 1)))
            with self.client.get(base + "/me", headers=auth, name="/queue/me",
                                 catch_response=True) as resp:  # fmt: skip
                record["polls"] += 1
                if resp.status_code != 200:
                    resp.failure(f"status {resp.status_code}")
                    continue
                body = resp.json()
        record["outcome"] = body["state"]

    def claim(self, auth: dict, queue_pass: str) -> str:
        STATE["outcomes"].member_started()  # an admitted member presses: that is the demand
        key = uuid.uuid4().hex
        url = f"/api/v1/flashsales/{STATE['sale']['campaign_id']}/claims"
        headers = {**auth, "Idempotency-Key": key, "Queue-Pass": queue_pass}
        for _attempt in range(1 + self.environment.parsed_options.retries):
            with self.client.post(url, headers=headers, name="/api/v1/flashsales/[id]/claims",
                                  catch_response=True) as resp:  # fmt: skip
                if resp.status_code == 201:
                    resp.success()
                    STATE["outcomes"].add("created", time.time(), resp.json()["voucher"]["code"])
                    return "won"
                if resp.status_code == 0 or resp.status_code >= 500:
                    resp.failure(f"retryable: {resp.status_code}")
                    continue
                code = _code(resp)
                if code in EXPECTED_REFUSALS:
                    resp.success()
                else:
                    resp.failure(f"unexpected {resp.status_code}: {(resp.text or '')[:200]}")
                STATE["outcomes"].add(code, time.time())
                return code
        STATE["outcomes"].add("gave_up", time.time())
        return "gave_up"


def _code(resp) -> str:
    try:
        return resp.json().get("code", "error")
    except ValueError:
        return "error"


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--max-poll", type=float, default=30.0, help="poll at least this often (s)")
